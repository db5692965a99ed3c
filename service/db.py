"""Engine and sessions, shared by the API (one session per request, ``service.web``), the worker
and the command line."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows: processes meet in SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]


def make_engine(url: str) -> Engine:
    """An engine with SQLite tuned for several processes (WAL, busy timeout, foreign keys)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        _one_writer_at_a_time(engine)
        return engine
    engine = create_engine(url)
    _ping_when_idle(engine)
    return engine


SQLITE_BUSY_TIMEOUT = 30.0
_READS = ("SELECT", "PRAGMA")


class _WriterLock:
    """One SQLite file's turn to write, in this process: a thread lock for its threads, then an
    exclusive ``flock`` on a file beside the database for its other processes (none where
    ``fcntl`` is missing). A forked child starts with its own of both: the parent's thread lock may
    have been held by a thread the child does not have, and an inherited descriptor would share the
    parent's file lock rather than exclude it."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._after_fork()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.threads, self._fd = threading.Lock(), -1

    def acquire(self, timeout: float) -> bool:
        if not self.threads.acquire(timeout=timeout):
            return False
        if self.path is not None and fcntl is not None:
            try:
                if self._fd < 0:
                    # Read-only is enough for flock, so a file another user made still serves.
                    self._fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # the kernel wakes the next waiter, any process's
            except OSError as error:  # a directory we may not write to: SQLite's busy handler alone
                log.warning("no writers' lock file %s (%s); processes take turns in SQLite", self.path, error)
                self.path = None
        return True

    def release(self) -> None:
        if self._fd >= 0 and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.threads.release()


_writer_locks: dict[str, _WriterLock] = {}


def _one_writer_at_a_time(engine: Engine) -> None:
    """On SQLite, a connection about to write first waits for the other writers: this process's on a
    thread lock, other processes' (API, worker) on a file lock beside the database (``_WriterLock``).

    SQLite lets one connection write at a time; the others wait in its busy handler, which sleeps
    and retries at growing intervals (up to 100 ms), so a writer that has waited a while keeps
    losing to newcomers. With 16 threads posting comments that gave a p99 of 0.6-0.9 s against
    0.15-0.2 s when the threads of a process queue on a lock that wakes the next one at once; with
    the two API processes also queueing on the file lock, a writer held SQLite's lock 0.7 ms per
    comment instead of 2.1 ms, most of which had been sleeping in the busy handler while the other
    process wrote (``benchmarks/ingest.py``). The lock is taken before a connection's first write
    statement and released when the connection goes back to the pool (after its commit or
    rollback), which is when SQLite releases its own; other programs writing the file still meet
    Stet in SQLite's busy handler, with its timeout. Keyed by the database file, so every engine of
    one process on the same file shares it.
    """
    database = make_url(str(engine.url)).database or ""
    on_disk = bool(database) and database != ":memory:" and not database.startswith("file:")
    key = os.path.realpath(database) if on_disk else str(id(engine))
    if key not in _writer_locks:
        _writer_locks[key] = _WriterLock(key + "-writers" if on_disk else None)
    lock = _writer_locks[key]

    @event.listens_for(engine, "before_cursor_execute")
    def _wait_for_writers(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if info.get("writer") or statement.lstrip()[:6].upper().startswith(_READS):
            return
        if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT):
            raise sqlite3.OperationalError("database is locked")
        info["writer"] = True

    def _release(_dbapi_conn: Any, record: Any, *_args: Any) -> None:
        if record is not None and record.info.pop("writer", False):
            lock.release()

    for name in ("checkin", "invalidate", "close"):
        event.listen(engine, name, _release)


# A pooled connection unused this long is pinged before it is handed out: after a database restart
# it is likely dead. One in use moments ago is not: a ping on every checkout (``pool_pre_ping``) cost
# a round trip per request, 6% of the API's CPU per comment on PostgreSQL (benchmarks/ingest.py). A
# connection that died while in use fails its statement instead; SQLAlchemy then replaces every
# connection of the pool, and the request answers 503 with Retry-After (``service.api.errors``).
PING_AFTER_IDLE = 5.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _note_last_use(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last_use = record.info.get("checked_in")  # None: a connection just made
        if last_use is None or time.monotonic() - last_use < PING_AFTER_IDLE:
            return
        try:
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SELECT 1")
            dbapi_conn.rollback()
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(str(error)) from error  # the pool tries a new connection


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for one unit of work outside a request (worker, CLI)."""
        with self.sessions() as session:
            yield session


class ProcessCache:
    """What this process read about a few rows that every request needs (a site by its key, a site's
    webhooks), reused for ``ttl`` seconds instead of a query per request (benchmarks/ingest.py).

    A change to one of ``models`` flushed by this process clears it at once; a change made by
    another process is seen here within ``ttl`` seconds. Entries are kept per engine (not per URL:
    rendering a URL as text cost more than the rest of a lookup), so two databases in one process
    (the tests) never share one."""

    _all: list[ProcessCache] = []

    def __init__(self, ttl: float, *models: type) -> None:
        self.ttl, self.models = ttl, models
        self._entries: weakref.WeakKeyDictionary[Engine, dict[Any, tuple[Any, float]]] = (
            weakref.WeakKeyDictionary()
        )
        event.listen(Session, "after_flush", self._changed)
        ProcessCache._all.append(self)

    @classmethod
    def forget_all(cls) -> None:
        """Empty every cache: for a database emptied without the ORM (the tests, between tests)."""
        for cache in cls._all:
            cache._entries.clear()

    def get(self, session: Session, key: Any) -> Any | None:
        entry = self._entries.get(session.get_bind().engine, {}).get(key)
        return entry[0] if entry is not None and entry[1] > time.monotonic() else None

    def put(self, session: Session, key: Any, value: Any) -> None:
        engine = session.get_bind().engine
        self._entries.setdefault(engine, {})[key] = (value, time.monotonic() + self.ttl)

    def _changed(self, session: Session, _context: Any) -> None:
        if self._entries and any(
            isinstance(row, self.models) for row in (*session.dirty, *session.deleted, *session.new)
        ):
            self._entries.clear()
