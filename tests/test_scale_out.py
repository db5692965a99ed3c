"""Scale-out across hosts: the production shape (PostgreSQL, Redis, two ``stet api``, two ``stet worker``
and one ``stet beat``), each "host" a Linux network namespace with its own address on a private
bridge, built on this machine for the test and torn down after it.

A burst of comments goes through both API hosts from several threads, as a site would send it (each
comment with its own ``external_id``, retried on a refused connection, a time-out, a 5xx or a 429);
a third of the way in, one worker host dies (every process in its namespace SIGKILLed, the messages
it held unacknowledged). Afterwards every acknowledged comment must be stored, none left pending, and
each decided exactly once (one automatic decision); the counts are printed for the CI log.

Needs root, ``ip`` (iproute2), PostgreSQL's server binaries and ``redis-server``: skipped without
them, failed without them under CI. It brings its own PostgreSQL, so it runs in the SQLite leg only
(it uses no ``database_url``, which the PostgreSQL leg selects on).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from service.db import Database
from service.models import Comment, Status
from tests.conftest import ROOT, automatic_decisions, wait_until

pytestmark = [pytest.mark.hosts, pytest.mark.worker, pytest.mark.timeout(300)]

COMMENTS = 300
THREADS = 6
API_PORT = 8000
DECIDED = re.compile(rb"comment (\d+) (approved|queued|rejected)")
SWEPT = re.compile(rb"sweep: re-enqueueing (\d+) pending comments")
WORDS = (
    "harbour council budget ferry tram school library housing rent river bridge park market mayor"
    " election tax museum stadium hospital nurses teachers buses cycling parking flood storm beach"
    " festival theatre bakery fishing port tourism jobs wages pension children garden trees noise"
    " traffic airport railway station energy solar wind heating water waste recycling planning"
).split()


# --- prerequisites -------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed the Debian way, if any."""
    found = [
        path
        for path in Path("/usr/lib/postgresql").glob("*/bin")
        if (path / "initdb").exists() and (path / "postgres").exists()
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None) if found else None


def _require(ok: bool, message: str) -> None:
    """Skip without a prerequisite on a developer's machine; under CI a missing one is a failure."""
    if ok:
        return
    message = f"the multi-host test needs {message}"
    if os.environ.get("CI"):
        pytest.fail(message + " (required under CI)")
    pytest.skip(message)


def _prerequisites() -> Path:
    _require(os.geteuid() == 0, "root (it makes network namespaces, a bridge and veth pairs)")
    _require(shutil.which("ip") is not None, "`ip` from iproute2 on PATH")
    pg_bin = _postgres_bin()
    _require(pg_bin is not None, "PostgreSQL's server binaries in /usr/lib/postgresql/*/bin")
    _require(shutil.which("redis-server") is not None, "redis-server on PATH")
    _require(shutil.which("setpriv") is not None, "setpriv (util-linux) to run PostgreSQL unprivileged")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        _require(False, "the postgres system user (PostgreSQL's server package makes it)")
    assert pg_bin is not None
    return pg_bin


# --- hosts ---------------------------------------------------------------------------------


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def _quiet(*args: str) -> None:
    """``ip`` in teardown: whatever is already gone stays gone."""
    subprocess.run(["ip", *args], capture_output=True, timeout=10)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.213.0.0/16 that no interface on this machine uses (runs side by side differ)."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout
    used += subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    for third in secrets.SystemRandom().sample(range(1, 255), 254):
        if f"10.213.{third}." not in used:
            return ipaddress.IPv4Network(f"10.213.{third}.0/24")
    pytest.fail("no free /24 left in 10.213.0.0/16")


@dataclass
class Process:
    """A process started on a host: its log, and the signal that stops it."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM


@dataclass
class Host:
    """A network namespace with one veth on the bridge: its own address, loopback and processes."""

    name: str  # the role: "pg", "api1"...
    namespace: str
    address: str
    processes: list[Process] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        log: Path,
        cwd: Path = ROOT,
        stop_signal: int = signal.SIGTERM,
    ) -> Process:
        """Start ``argv`` inside this host, in a session of its own, its output in ``log``."""
        with log.open("ab") as out:
            popen = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, *argv],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
            )
        process = Process(name, popen, log, stop_signal)
        self.processes.append(process)
        return process

    def pids(self) -> list[int]:
        listed = subprocess.run(
            ["ip", "netns", "pids", self.namespace], capture_output=True, text=True, timeout=10
        ).stdout
        return [int(pid) for pid in listed.split()]

    def kill(self) -> None:
        """Every process in the namespace SIGKILLed at once, as a host losing power would."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes:
            try:
                process.popen.wait(10)
            except subprocess.TimeoutExpired:
                pass


class Network:
    """A bridge with an address for the root namespace and one namespace per host."""

    def __init__(self) -> None:
        self.suffix = secrets.token_hex(3)
        self.subnet = _free_subnet()
        self.bridge = f"stbr{self.suffix}"
        self.gateway = str(self.subnet[1])
        self.hosts: dict[str, Host] = {}
        self.veths: list[str] = []
        self.bridge_made = False

    def up(self) -> None:
        ip("link", "add", "name", self.bridge, "type", "bridge")
        self.bridge_made = True
        ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")

    def host(self, name: str) -> Host:
        index = len(self.hosts) + 1
        namespace = f"stet-{self.suffix}-{name}"
        address = str(self.subnet[10 + index])
        ip("netns", "add", namespace)
        host = self.hosts[name] = Host(name, namespace, address)
        outer, inner = f"stv{self.suffix}{index}", f"stp{self.suffix}{index}"
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        self.veths.append(outer)
        ip("link", "set", inner, "netns", namespace)
        ip("link", "set", outer, "master", self.bridge, "up")
        ip("-n", namespace, "link", "set", inner, "name", "eth0")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
        ip("-n", namespace, "link", "set", "lo", "up")
        return host

    def down(self) -> None:
        """Stop every process (politely, then SIGKILL), then remove namespaces, veths and bridge."""
        processes = [p for host in self.hosts.values() for p in host.processes if p.popen.poll() is None]
        for process in processes:
            try:
                if process.stop_signal == signal.SIGTERM:
                    os.killpg(process.popen.pid, signal.SIGTERM)
                else:  # PostgreSQL's postmaster: immediate shutdown (it removes its shared memory)
                    process.popen.send_signal(process.stop_signal)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 8
        for process in processes:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for host in self.hosts.values():
            host.kill()
            _quiet("netns", "del", host.namespace)
        for veth in self.veths:
            _quiet("link", "del", veth)  # gone with its peer's namespace already, normally
        if self.bridge_made:
            _quiet("link", "del", self.bridge)


# --- the installation ----------------------------------------------------------------------


@dataclass
class Cluster:
    net: Network
    folder: Path
    db: Database
    key: str
    apis: list[Host]
    workers: list[Host]
    logs: list[Path]

    def log(self, host: Host) -> Path:
        return self.folder / f"{host.name}.log"

    def decided(self, worker: Host) -> set[int]:
        return _decided_in_log(self.log(worker))


def dump_logs(logs: list[Path], tail: int = 4000) -> None:
    """Each process's log (its end), for a failed run's report."""
    for log in logs:
        if log.exists():
            text = log.read_text(errors="replace")
            print(f"\n----- {log.name} (last {tail} characters) -----\n{text[-tail:]}")


def _stet_env(home: Path, database_url: str, redis_url: str, host: str = "127.0.0.1") -> dict[str, str]:
    """A clean environment for ``stet``: none of this machine's STET_* settings or proxies."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STET_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    keep.pop("PROMETHEUS_MULTIPROC_DIR", None)
    keep.pop("XDG_RUNTIME_DIR", None)
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    return keep | {
        # A host's own home and temporary files: gunicorn's control socket (~/.gunicorn/gunicorn.ctl),
        # metrics directories and the like stay on their host and go with the test's folder.
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "PYTHONUNBUFFERED": "1",
        "STET_HOME": str(home),
        "STET_DATABASE_URL": database_url,
        "STET_REDIS_URL": redis_url,
        "STET_HOST": host,
        "STET_PORT": str(API_PORT),
        "STET_SECRET_KEY": "scale-out-secret",
        # STET_SCORERS unset: the default scorer (blend), which loads in about a second.
        "STET_RATE_LIMIT_SITE": "100000/minute",
        "STET_RATE_LIMIT_AUTHOR": "100000/minute",
        "STET_RATE_LIMIT_IP": "100000/minute",
        "STET_PENDING_TIMEOUT": "3",
        "STET_SWEEP_INTERVAL": "1",
    }


def _stet(env: dict[str, str], *args: str) -> str:
    """Run ``stet`` in the root namespace (over the bridge) and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "service.app.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, f"stet {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _start_postgres(pg_bin: Path, host: Host, net: Network, folder: Path) -> None:
    data = folder / "pg" / "data"
    data.parent.mkdir()
    data.mkdir(mode=0o700)
    os.chown(data, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    initdb = subprocess.run(
        [*as_postgres, str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres"]
        + ["--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        capture_output=True,
        text=True,
        cwd=data,
        timeout=120,
    )
    assert initdb.returncode == 0, f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}"
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {net.subnet} trust\n")
    settings = {
        "listen_addresses": host.address,
        "port": "5432",
        "unix_socket_directories": str(data),
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "200",
    }
    options = [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]
    host.spawn(
        "postgres",
        [*as_postgres, str(pg_bin / "postgres"), "-D", str(data), *options],
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"},
        folder / "pg.log",
        cwd=data,
        stop_signal=signal.SIGQUIT,
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _postgres_answers(url: str) -> bool:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=1).close()
        return True
    except psycopg.OperationalError:
        return False


def _log_has(log: Path, text: bytes) -> bool:
    return log.exists() and text in log.read_bytes()


def _wait_up(host: Host, ready: Callable[[], bool], what: str) -> None:
    """Wait for ``host``'s process to be ready; fail at once if it exits instead."""
    process = host.processes[-1]
    wait_until(
        lambda: ready() or process.popen.poll() is not None, 90, interval=0.25, what=f"{host.name} {what}"
    )
    assert process.popen.poll() is None, (
        f"{host.name}'s {process.name} exited with {process.popen.returncode}"
    )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    pg_bin = _prerequisites()
    net = Network()
    folder = Path(tempfile.mkdtemp(prefix=f"stet-hosts-{net.suffix}-"))
    folder.chmod(0o755)  # PostgreSQL's user reaches its data folder through it
    logs: list[Path] = []
    db: Database | None = None
    try:
        net.up()
        pg, redis_host = net.host("pg"), net.host("redis")
        apis = [net.host("api1"), net.host("api2")]
        workers = [net.host("worker1"), net.host("worker2")]
        beat = net.host("beat")
        logs.append(folder / "pg.log")
        _start_postgres(pg_bin, pg, net, folder)
        redis_log = folder / "redis.log"
        logs.append(redis_log)
        redis_host.spawn(
            "redis",
            ["redis-server", "--bind", redis_host.address, "--port", "6379", "--protected-mode", "no"]
            + ["--save", "", "--appendonly", "no", "--dir", str(folder)],
            {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            redis_log,
        )
        database_url = f"postgresql+psycopg://postgres@{pg.address}:5432/postgres"
        redis_url = f"redis://{redis_host.address}:6379/0"
        pg_url = f"postgresql://postgres@{pg.address}:5432/postgres"
        _wait_up(pg, lambda: _postgres_answers(pg_url), "to answer over the bridge")
        _wait_up(redis_host, lambda: _log_has(redis_log, b"Ready to accept connections"), "ready")

        root_env = _stet_env(folder / "admin", database_url, redis_url)
        _stet(root_env, "db", "upgrade")
        key = _stet(root_env, "site", "create", "Scale-out Gazette").strip().splitlines()[-1]

        python = [sys.executable, "-m", "service.app.cli"]
        for api in apis:
            log = folder / f"{api.name}.log"
            logs.append(log)
            env = _stet_env(folder / api.name, database_url, redis_url, api.address)
            api.spawn("api", [*python, "api", "--workers", "1", "--threads", "8"], env, log)
        for worker in workers:
            log = folder / f"{worker.name}.log"
            logs.append(log)
            env = _stet_env(folder / worker.name, database_url, redis_url, worker.address)
            worker.spawn("worker", [*python, "worker", "-c", "1", "--no-beat"], env, log)
        beat_log = folder / "beat.log"
        logs.append(beat_log)
        env = _stet_env(folder / "beat", database_url, redis_url, beat.address)
        beat.spawn("beat", [*python, "beat"], env, beat_log)

        for api in apis:
            _wait_up(api, lambda api=api: _answers(f"http://{api.address}:{API_PORT}/healthz"), "to answer")
        for worker in workers:
            _wait_up(
                worker, lambda worker=worker: _log_has(folder / f"{worker.name}.log", b" ready."), "ready"
            )
        _wait_up(beat, lambda: _log_has(beat_log, b"beat: Starting"), "to start")
        db = Database(database_url)
    except BaseException:
        dump_logs(logs)  # the installation did not come up
        net.down()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        yield Cluster(net, folder, db, key, apis, workers, logs)
    finally:
        if db is not None:
            db.engine.dispose()
        net.down()
        shutil.rmtree(folder, ignore_errors=True)


# --- the burst -----------------------------------------------------------------------------


@dataclass
class Burst:
    """What the site saw: acknowledged comments (external_id -> Stet's id) and every answer."""

    acknowledged: dict[str, int] = field(default_factory=dict)
    by_api: Counter[str] = field(default_factory=Counter)  # acknowledgements per API host
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer (refused, time-out)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)  # the test failed: give up


def _body(n: int) -> str:
    """A different remark each time: copies of one text would be the repetition the spam rules catch."""
    words = random.Random(n).sample(WORDS, 12)
    rest = " ".join(words[3:])
    return f"I think the {words[0]} and the {words[1]} matter more than the {words[2]}: {rest}."


def _post(client: httpx.Client, api: Host, key: str, external_id: str, n: int) -> tuple[int, int | None]:
    """One try at posting comment ``n``: the answer's status (0: none) and Stet's id when acknowledged."""
    body = {
        "article": {"id": f"story-{n % 5}", "title": "Harbour plans"},
        "author": {"id": f"reader-{n}"},
        "body": _body(n),
        "external_id": external_id,
    }
    try:
        answer = client.post(
            f"http://{api.address}:{API_PORT}/api/v1/comments",
            json=body,
            headers={"Authorization": f"Bearer {key}"},
        )
    except httpx.HTTPError:
        return 0, None
    return answer.status_code, answer.json()["id"] if answer.status_code in (200, 202) else None


def post_burst(apis: list[Host], key: str, burst: Burst, numbers: list[int], deadline: float) -> None:
    """Post each comment to the API hosts in turn, retried until acknowledged; a retry goes to the
    other host (the same external_id: a retry of one already saved is answered 200, not saved again)."""
    with httpx.Client(timeout=5, trust_env=False) as client:
        for n in numbers:
            external_id = f"burst-{n:04d}"
            attempt = 0
            while time.monotonic() < deadline and not burst.stop.is_set():
                api = apis[(n + attempt) % len(apis)]
                attempt += 1
                status, comment_id = _post(client, api, key, external_id, n)
                with burst.lock:
                    burst.statuses[status] += 1
                    if comment_id is not None:
                        burst.acknowledged[external_id] = comment_id
                        burst.by_api[api.name] += 1
                if comment_id is not None:
                    break
                time.sleep(0.2)


def _decided_in_log(log: Path) -> set[int]:
    """The comments a worker host logged deciding (a line after each decision's commit)."""
    return {int(m.group(1)) for m in DECIDED.finditer(log.read_bytes())} if log.exists() else set()


def _swept_in_log(log: Path) -> int:
    return sum(int(m.group(1)) for m in SWEPT.finditer(log.read_bytes())) if log.exists() else 0


def warm_up(cluster: Cluster) -> int:
    """A comment now and then until each worker host has decided one: a worker's first run loads and
    warms its models (seconds), so a cold one would still be starting when the burst is over."""
    posted = 0
    deadline = time.monotonic() + 45
    with httpx.Client(timeout=5, trust_env=False) as client:
        while not all(cluster.decided(w) for w in cluster.workers):
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the worker hosts did not all decide a warm-up comment in 45 s ({posted} posted)"
                )
            n = COMMENTS + posted
            _post(client, cluster.apis[posted % len(cluster.apis)], cluster.key, f"warm-{posted:03d}", n)
            posted += 1
            time.sleep(0.2)
    return posted


def test_a_burst_through_two_api_hosts_is_decided_exactly_once_when_a_worker_host_dies(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
):
    try:
        report = _burst_and_check(cluster)
    except BaseException:
        dump_logs(cluster.logs)
        raise
    with capsys.disabled():  # the counts go to the CI log, passed or not
        print(report)


def _burst_and_check(cluster: Cluster) -> str:
    """Warm up, burst, kill, wait; returns the counts (printed, and in a failure's report)."""
    warmed = time.monotonic()
    warm_ups = warm_up(cluster)
    warmed = time.monotonic() - warmed
    burst = Burst()
    started = time.monotonic()
    threads = [
        threading.Thread(
            target=post_burst,
            args=(cluster.apis, cluster.key, burst, list(range(i, COMMENTS, THREADS)), started + 90),
            daemon=True,
        )
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    try:
        # Mid-burst, worker host 1 dies with the messages it took ahead (the prefetch) unacknowledged
        # and maybe a run half done: the sweep (stet beat) re-enqueues what it held.
        victim, survivor = cluster.workers
        wait_until(lambda: len(burst.acknowledged) >= COMMENTS // 3, 60, interval=0.02, what="a third")
        killed_at = len(burst.acknowledged)
        victim.kill()
        wait_until(lambda: not victim.pids(), 10, what=f"{victim.name}'s processes to be gone")
        for thread in threads:
            thread.join(120)
    finally:
        burst.stop.set()
        for thread in threads:
            thread.join(10)
    posted_for = time.monotonic() - started
    ids = list(burst.acknowledged.values())

    def pending() -> int:
        with cluster.db.session() as session:
            query = select(func.count()).where(Comment.id.in_(ids), Comment.status == Status.PENDING.value)
            return session.scalar(query) or 0

    wait_until(lambda: pending() == 0, 60, interval=0.5, what="every acknowledged comment to be decided")
    decided_for = time.monotonic() - started
    with cluster.db.session() as session:
        per_comment = automatic_decisions(session, ids)
        stored = session.scalar(
            select(func.count()).select_from(Comment).where(Comment.external_id.startswith("burst-"))
        )
        outcomes = dict(
            session.execute(
                select(Comment.status, func.count()).where(Comment.id.in_(ids)).group_by(Comment.status)
            ).all()
        )
    by_worker = {w.name: len(cluster.decided(w) & set(ids)) for w in cluster.workers}
    swept = sum(_swept_in_log(cluster.log(w)) for w in cluster.workers)
    errors = {status: n for status, n in burst.statuses.items() if status >= 500}
    hosts = ", ".join(f"{h.name} {h.address}" for h in cluster.net.hosts.values())
    report = (
        f"\nscale-out: {hosts} on bridge {cluster.net.bridge} ({cluster.net.subnet})"
        f"\n  warm-up: {warm_ups} comments until each worker host had decided one ({warmed:.1f}s)"
        f"\n  posted {COMMENTS} from {THREADS} threads in {posted_for:.1f}s, acknowledged {len(ids)}"
        f" (per API host {dict(sorted(burst.by_api.items()))}),"
        f" answers {dict(sorted(burst.statuses.items()))}"
        f"\n  {victim.name} SIGKILLed after {killed_at} acknowledged; re-enqueued by the sweep {swept}"
        f"\n  stored {stored}, decided {len(per_comment)} {dict(sorted(outcomes.items()))}"
        f" {decided_for:.1f}s after the burst began,"
        f" per worker host (its log) {by_worker}, lost {len(ids) - len(per_comment)}"
    )
    print(report)  # shown with the failure if an assertion below fails
    assert len(ids) == COMMENTS, "not every comment was acknowledged before the deadline"
    assert stored == COMMENTS, "a retried comment was stored twice"
    assert pending() == 0
    assert len(per_comment) == COMMENTS, "an acknowledged comment has no automatic decision"
    assert set(per_comment.values()) == {1}, "a comment was decided more than once"
    assert not errors, f"server errors: {errors}"
    assert all(burst.by_api[api.name] > 0 for api in cluster.apis), "an API host took no comment"
    assert by_worker[survivor.name] > 0, f"{survivor.name} decided none of the burst"
    return report
