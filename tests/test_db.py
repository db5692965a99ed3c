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
