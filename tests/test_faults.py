"""The fault suite: a burst of comments over real HTTP while a worker, Redis, the database or the API
itself is killed or stopped, on real processes (``stet api``, ``stet worker``, Redis).

The site behaves as a well-written client would: every comment carries its own ``external_id`` and
is retried on a refused connection, a time-out, a 5xx or a 429 until it is acknowledged (202, or 200
for a retry of one already saved). Afterwards every acknowledged comment must be decided exactly
once (one automatic decision), no answer may be a 500, and the counts are printed:
``acknowledged``, ``decided``, ``5xx`` (by status), ``lost`` (always 0).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from service import accounts
from service.config import Settings
from service.db import Database
from service.embedded import EmbeddedRedis, free_port
from service.models import Comment, Status
from tests.conftest import ROOT, WorkerProcess, _env_for, automatic_decisions, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.fault, pytest.mark.timeout(420)]

COMMENTS = 60
THREADS = 6


class ApiProcess:
    """A real ``stet api`` (gunicorn, two workers) on a free port."""

    def __init__(self, settings: Settings, log: Path):
        self.settings, self.log = settings, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiProcess:
        env = _env_for(self.settings) | {"STET_PORT": str(self.port), "STET_HOST": "127.0.0.1"}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service.app.cli", "api", "--workers", "2", "--threads", "4"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

        def answers() -> bool:
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 60, interval=0.2, what="stet api to answer")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Burst:
    """What the site saw: the acknowledged comments' ids and every answer's status."""

    acknowledged: dict[str, int] = field(default_factory=dict)  # external_id -> Stet's id
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer (refused, time-out)
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_burst(base: Callable[[], str], key: str, burst: Burst, ids: list[str], deadline: float) -> None:
    with httpx.Client(timeout=5) as client:
        for external_id in ids:
            body = {
                "article": {"id": f"story-{hash(external_id) % 3}"},
                "author": {"id": f"reader-{external_id}"},
                "body": f"Comment {external_id}: the council should publish the figures.",
                "external_id": external_id,
            }
            while time.monotonic() < deadline:
                try:
                    answer = client.post(
                        f"{base()}/api/v1/comments", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                with burst.lock:
                    burst.statuses[status] += 1
                    if status in (200, 202):
                        burst.acknowledged[external_id] = answer.json()["id"]
                if status in (200, 202):
                    break
                time.sleep(0.3)


@dataclass
class Installation:
    settings: Settings
    db: Database
    key: str
    api: ApiProcess
    worker: WorkerProcess
    redis: EmbeddedRedis


@pytest.fixture
def installation(settings: Settings, tmp_path: Path) -> Iterator[Installation]:
    """``stet api`` and ``stet worker`` on this test's database and a Redis of its own (to kill)."""
    redis = EmbeddedRedis(tmp_path / "redis").start()
    mine = replace(settings, redis_url=redis.url)
    db = Database(mine.sqlalchemy_url)
    with db.session() as session:
        _site, key = accounts.create_site(session, "Faulty Gazette")
        session.commit()
    api = ApiProcess(mine, tmp_path / "api.log").start()
    worker = WorkerProcess(mine, tmp_path / "worker.log", concurrency=2).start()
    inst = Installation(mine, db, key, api, worker, redis)
    try:
        yield inst
    finally:
        inst.api.stop()
        inst.worker.stop()
        inst.redis.stop()  # the one running now: a test may have restarted it
        db.engine.dispose()


def run_burst(inst: Installation, name: str, fault: Callable[[], None]) -> Burst:
    """Post ``COMMENTS`` comments from ``THREADS`` threads; ``fault`` strikes a third of the way in."""
    burst = Burst()
    deadline = time.monotonic() + 120
    ids = [f"{name}-{n:03d}" for n in range(COMMENTS)]
    threads = [
        threading.Thread(
            target=post_burst, args=(lambda: inst.api.base, inst.key, burst, ids[i::THREADS], deadline)
        )
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(burst.acknowledged) >= COMMENTS // 3, 60, what="a third of the burst")
    fault()
    for thread in threads:
        thread.join(150)
    return burst


def assert_decided_exactly_once(inst: Installation, burst: Burst, name: str) -> None:
    ids = list(burst.acknowledged.values())

    def all_decided() -> bool:
        waiting = select(func.count()).where(Comment.id.in_(ids), Comment.status == Status.PENDING.value)
        try:
            with inst.db.session() as session:
                return session.scalar(waiting) == 0
        except DBAPIError as error:
            # The database outage also cuts this check's own pooled connection; one used less than
            # PING_AFTER_IDLE ago is not pinged, so its first query fails and the pool is replaced.
            if not error.connection_invalidated:
                raise
            return False

    try:
        wait_until(all_decided, 90, interval=0.5, what="every acknowledged comment to be decided")
    except BaseException:
        print("worker log:\n" + inst.worker.log.read_text(errors="replace")[-6000:])
        raise
    with inst.db.session() as session:
        per_comment = automatic_decisions(session, ids)
        stored = session.scalar(
            select(func.count()).where(Comment.external_id.startswith(name + "-", autoescape=True))
        )
    errors = {status: n for status, n in burst.statuses.items() if status >= 500}
    lost = len(ids) - len(per_comment)
    print(
        f"\n{name}: acknowledged {len(ids)}, decided {len(per_comment)}, stored {stored}, "
        f"5xx {errors or 0}, no answer {burst.statuses.get(0, 0)}, lost {lost}"
    )
    assert len(ids) == COMMENTS and stored == COMMENTS  # every comment acknowledged, none twice
    assert lost == 0
    assert set(per_comment.values()) == {1}, "a comment decided more than once"
    assert 500 not in burst.statuses, "api log:\n" + inst.api.log.read_text(errors="replace")[-6000:]


def test_nothing_is_lost_when_a_process_dies_or_the_database_goes_away_mid_burst(
    installation: Installation, database_url: str
):
    """One installation, one burst per fault in turn (starting the processes once keeps the suite
    short); each burst's comments are checked on their own."""
    inst = installation

    def kill_worker() -> None:
        inst.worker.kill()
        time.sleep(1)
        inst.worker.start()

    def kill_redis() -> None:
        port, folder = inst.redis.port, inst.redis.folder
        os.kill(inst.redis.process.pid, signal.SIGKILL)
        inst.redis.process.wait()
        time.sleep(2)  # comments keep arriving, saved and acknowledged; their tasks go nowhere
        inst.redis = EmbeddedRedis(folder, port).start()

    def kill_api() -> None:
        inst.api.kill()
        time.sleep(1)
        inst.api.start()

    faults = {"worker": kill_worker, "api": kill_api}
    if database_url.startswith("postgresql"):  # SQLite is a file in each process: no outage to stage
        faults["database"] = database_outage(database_url)
    # A burst after a Redis restart once stalled here for 90 s: Celery dropped celery-batches' flush
    # timer on reconnecting (fixed in worker.tasks.ScoringTask.Strategy; test_worker_e2e.py checks it).
    faults["redis"] = kill_redis
    for name, fault in faults.items():
        burst = run_burst(inst, name, fault)
        assert_decided_exactly_once(inst, burst, name)
        if name == "database":
            assert burst.statuses[503] > 0, "the outage was not seen"


def database_outage(database_url: str) -> Callable[[], None]:
    """PostgreSQL refusing this test database's connections for 3 s, its sessions cut."""
    import psycopg

    admin_url = os.environ.get("STET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = database_url.rsplit("/", 1)[1]

    def fault() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(3)  # the outage: the API answers 503, the worker leaves comments pending
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

    return fault
