"""The engine's SQLite tuning: one writer per process at a time, readers never held up."""

from __future__ import annotations

import threading

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from service import db as db_module


def test_sqlite_writers_of_one_process_take_turns_and_readers_do_not_wait(tmp_path, monkeypatch):
    """A second writer waits for the first's commit on the process's lock (woken at once, not by
    SQLite's polling busy handler), a reader goes ahead meanwhile, and a writer that waits too long
    gets SQLite's own 'database is locked' rather than hanging."""
    database = db_module.Database(f"sqlite:///{tmp_path / 'stet.db'}")
    other = db_module.Database(f"sqlite:///{tmp_path / 'stet.db'}")  # same file: the same lock
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    order: list[str] = []
    second_started = threading.Event()

    def second_writer() -> None:
        second_started.set()
        with other.engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second wrote")

    with database.engine.connect() as first:
        first.execute(text("INSERT INTO t VALUES (1)"))
        thread = threading.Thread(target=second_writer)
        thread.start()
        second_started.wait(5)
        thread.join(0.3)
        assert thread.is_alive(), "the second writer went ahead while the first had not committed"
        with other.engine.connect() as reader:  # a reader does not queue behind writers
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        order.append("first committed")
        first.commit()
    thread.join(5)
    assert order == ["first committed", "second wrote"]
    with database.engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 2]

    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT", 0.2)
    failures: list[Exception] = []

    def impatient_writer() -> None:
        try:
            with other.engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (3)"))
        except Exception as error:  # noqa: BLE001 - the error is what the test looks at
            failures.append(error)

    with database.engine.connect() as first:
        first.execute(text("DELETE FROM t"))
        thread = threading.Thread(target=impatient_writer)
        thread.start()
        thread.join(5)
        first.rollback()
    # SQLAlchemy's OperationalError, as from SQLite itself: the API answers it 503 with Retry-After
    assert failures and isinstance(failures[0], OperationalError) and "database is locked" in str(failures[0])
    with database.engine.begin() as conn:  # the lock was handed back: writing works again
        conn.execute(text("INSERT INTO t VALUES (4)"))
    database.engine.dispose()
    other.engine.dispose()


def _write_from_another_process(path: str, said) -> None:  # type: ignore[no-untyped-def]
    """In another process: write to ``path`` with SQLite's own busy handler switched off, so only
    the file lock can make this writer wait for the first process's transaction."""
    child = db_module.Database(f"sqlite:///{path}")
    try:
        with child.engine.begin() as conn:
            conn.execute(text("PRAGMA busy_timeout = 0"))
            said.put("writing")
            conn.execute(text("INSERT INTO t VALUES (2)"))
        said.put("wrote")
    except Exception as error:  # noqa: BLE001 - reported to the parent, which asserts on it
        said.put(f"failed: {error}")


def test_sqlite_writers_of_other_processes_wait_on_the_file_lock(tmp_path):
    """A worker or a second API process writing while this one holds the write lock waits on the
    lock file beside the database and goes on once this one commits, instead of sleeping in SQLite's
    busy handler (switched off here: it would fail at once)."""
    import multiprocessing

    path = str(tmp_path / "stet.db")
    database = db_module.Database(f"sqlite:///{path}")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    context = multiprocessing.get_context("spawn")  # SQLite's own state must not cross a fork
    said = context.Queue()
    with database.engine.connect() as first:
        first.execute(text("INSERT INTO t VALUES (1)"))
        child = context.Process(target=_write_from_another_process, args=(path, said))
        child.start()
        assert said.get(timeout=60) == "writing"
        child.join(0.5)
        assert said.empty(), "the other process wrote inside this one's transaction"
        first.commit()
    assert said.get(timeout=10) == "wrote"
    child.join(10)
    with database.engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 2]
    database.engine.dispose()


def test_a_forked_process_takes_the_write_lock_for_itself(tmp_path):
    """Celery's pool processes are forked: a child must neither inherit the parent's thread lock
    (held, perhaps, by a thread the child does not have) nor its file lock (an inherited descriptor
    shares the parent's lock instead of waiting for it)."""
    import multiprocessing
    import time

    lock = db_module._WriterLock(str(tmp_path / "stet.db-writers"))
    assert lock.acquire(timeout=1)  # the parent holds it when the child is forked
    context = multiprocessing.get_context("fork")
    said = context.Queue()

    def child() -> None:
        said.put(("acquired", time.monotonic()) if lock.acquire(timeout=10) else ("timed out", 0.0))
        lock.release()

    process = context.Process(target=child)
    process.start()
    time.sleep(0.5)
    released = time.monotonic()
    lock.release()
    outcome, at = said.get(timeout=20)
    process.join(10)
    assert outcome == "acquired" and at >= released


def test_without_a_lock_file_writers_still_write(tmp_path, monkeypatch, caplog):
    """A database in a directory this process may not create the lock file in (another user's) is
    still written to: the processes take turns in SQLite's busy handler, as before, and say so."""
    real_open = db_module.os.open

    def refusing_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("-writers"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(db_module.os, "open", refusing_open)
    database = db_module.Database(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with database.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    assert "no writers' lock file" in caplog.text
    database.engine.dispose()
