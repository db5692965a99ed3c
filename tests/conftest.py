"""Fixtures on real parts: a migrated database (SQLite, or PostgreSQL when
STET_TEST_DATABASE=postgresql), a real Redis (an embedded one, or
STET_TEST_REDIS_URL), real ``stet worker`` processes and a live HTTP server.

Each test gets an empty database and an empty Redis database.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from service import accounts, moderation
from service.api import limits as api_limits
from service.app import create_app
from service.config import Settings
from service.db import Database, ProcessCache
from service.embedded import EmbeddedRedis
from service.migrate import upgrade
from service.models import Base, Role
from service.schemas import CommentIn
from service.web import limiter

ROOT = Path(__file__).resolve().parents[1]


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL leg runs only the tests that use the test database (whose fixtures reach
    ``database_url``): the others (models, policy, spam signals, ``stet run`` on its own SQLite)
    ran on the SQLite leg already, and the same code would run again for nothing; so do the
    browser tests marked ``presentation``, which check what a page looks like, not what it stores."""
    if os.environ.get("STET_TEST_DATABASE") != "postgresql":
        return
    kept = [
        item
        for item in items
        if "database_url" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("presentation")
    ]
    if kept and len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


# --- database ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    kind = os.environ.get("STET_TEST_DATABASE", "sqlite")
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'stet.db'}"
        upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise pytest.UsageError(f"STET_TEST_DATABASE must be sqlite or postgresql, not {kind!r}")
    import psycopg

    admin_url = os.environ.get("STET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"stet_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    yield db
    db.engine.dispose()


def _empty_tables(db: Database) -> None:
    ProcessCache.forget_all()  # ids start again at 1: nothing remembered may outlive its row
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


# --- redis ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("STET_TEST_REDIS_URL"):
        yield url
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def broker(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


# --- the app -------------------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database: Database, broker: redis.Redis, redis_url: str) -> Settings:
    """Settings for one test, with an empty database and Redis; the sweep runs every second."""
    _empty_tables(database)
    return Settings(
        home=tmp_path / "home",
        database_url=database.engine.url.render_as_string(hide_password=False),
        redis_url=redis_url,
        secret_key="test-secret",
        scorers="linear",
        sweep_interval=1.0,
        pending_timeout=3.0,
        # Bursts from one author are what the spam and worker tests post on purpose; the API's
        # posting limits have their own tests (test_api_limits.py sets them explicitly).
        rate_limit_author="100000/minute",
        rate_limit_ip="100000/minute",
        # Webhook receivers in the tests listen on 127.0.0.1 (test_webhooks.py checks the refusal).
        webhook_allow_private=True,
    )


@pytest.fixture
def app_factory(settings: Settings) -> Iterator[Callable[..., Any]]:
    """Build apps from this test's settings with ``overrides``; their engines are closed after."""
    apps = []

    def make(**overrides: Any):  # type: ignore[no-untyped-def]
        app = create_app(replace(settings, **overrides))
        app.config["TESTING"] = True
        # One Limiter serves every app of the test session (production has one app per process).
        # An app built on a dead Redis marks its storage dead, and the next app would count in
        # memory until a backed-off probe finds Redis again, mid-test: start each app afresh.
        limiter._storage_dead = False
        api_limits._redis_away_until = 0.0  # the comment route's own note that Redis was away
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["stet.db"].engine.dispose()


@pytest.fixture
def app(app_factory):  # type: ignore[no-untyped-def]
    return app_factory()


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def db(app) -> Database:  # type: ignore[no-untyped-def]
    return app.extensions["stet.db"]


@pytest.fixture
def site_key(db: Database) -> str:
    """The API key of a freshly created site."""
    with db.session() as session:
        _site, key = accounts.create_site(session, "Daily Planet")
        session.commit()
    return key


@dataclass
class SiteClient:
    """What a news site does over HTTP, so tests read like the site's own calls."""

    client: Any
    key: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post_comment(self, body: str = "A thoughtful remark about the story.", **fields: Any):  # type: ignore[no-untyped-def]
        payload = {
            "article": {"id": "story-1", "title": "City budget"},
            "author": {"id": "reader-1"},
            "body": body,
        }
        payload.update(fields)
        return self.client.post("/api/v1/comments", json=payload, headers=self.headers())

    def get_comment(self, comment_id: int):  # type: ignore[no-untyped-def]
        return self.client.get(f"/api/v1/comments/{comment_id}", headers=self.headers())

    def status(self, comment_id: int) -> str:
        return self.get_comment(comment_id).get_json()["status"]


@pytest.fixture
def site(client, site_key: str) -> SiteClient:  # type: ignore[no-untyped-def]
    return SiteClient(client, site_key)


@pytest.fixture
def make_user(db: Database) -> Callable[..., str]:
    """Create a dashboard user; returns its password."""

    def make(name: str = "mod", role: str = "moderator", password: str = "correct horse battery") -> str:
        with db.session() as session:
            accounts.create_user(session, name, Role(role), password)
            session.commit()
        return password

    return make


# --- processes -----------------------------------------------------------------------------


def _env_for(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "STET_HOME": str(settings.home),
        "STET_DATABASE_URL": settings.sqlalchemy_url,
        "STET_REDIS_URL": settings.redis_url,
        "STET_SCORERS": settings.scorers,
        "STET_SWEEP_INTERVAL": str(settings.sweep_interval),
        "STET_PENDING_TIMEOUT": str(settings.pending_timeout),
        "STET_SECRET_KEY": settings.secret_key,
        "STET_AKISMET_ENDPOINT": settings.akismet_endpoint,
        "STET_WEBHOOK_ALLOW_PRIVATE": "1" if settings.webhook_allow_private else "0",
        "STET_LOG_FORMAT": settings.log_format,
        "STET_WORKER_METRICS_PORT": str(settings.worker_metrics_port),
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """The ``stet`` command run in this process by click's ``CliRunner``, against this test's
    settings: fast, for what a command does. ``stet`` below runs the real entry point."""
    from click.testing import CliRunner

    from service.app.cli import cli

    for name, value in _env_for(settings).items():
        if name.startswith("STET_"):
            monkeypatch.setenv(name, value)
    invoker = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return invoker.invoke(cli, list(args), input=input)

    return invoke


def stet(settings: Settings, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the ``stet`` command line as a user would, against this test's settings."""
    return subprocess.run(
        [sys.executable, "-m", "service.app.cli", *args],
        env=_env_for(settings),
        input=input,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


class WorkerProcess:
    """A real ``stet worker`` process (Celery prefork pool with the beat sweep)."""

    def __init__(self, settings: Settings, log: Path, concurrency: int = 1, *options: str):
        self.settings, self.log, self.concurrency, self.options = settings, log, concurrency, options
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "service.app.cli",
                    "worker",
                    "-c",
                    str(self.concurrency),
                    *self.options,
                ],
                env=_env_for(self.settings),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )
        wait_until(
            lambda: b" ready." in self.log.read_bytes()[offset:] or self.process.poll() is not None,
            timeout,
            what="the worker to be ready",
        )
        if self.process.poll() is not None:
            pytest.fail(f"worker exited early:\n{self.log.read_text()[-3000:]}")
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker_factory(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real ``stet worker`` processes; only in tests marked ``worker`` (``-m "not worker"``
    must leave out every test that starts one)."""
    if request.node.get_closest_marker("worker") is None:
        pytest.fail("a test that starts a worker needs @pytest.mark.worker")
    workers: list[WorkerProcess] = []

    def factory(concurrency: int = 1, *options: str, **overrides: Any) -> WorkerProcess:
        worker = WorkerProcess(replace(settings, **overrides), tmp_path / "worker.log", concurrency, *options)
        workers.append(worker)
        return worker

    yield factory
    for worker in workers:
        worker.stop()


@pytest.fixture
def worker(worker_factory: Callable[..., WorkerProcess]) -> WorkerProcess:
    """A running worker for this test."""
    return worker_factory().start()


@contextlib.contextmanager
def serving(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve ``app`` over real HTTP on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served over real HTTP on a free port; yields its base URL."""
    with serving(app) as url:
        yield url


# --- the browser ---------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium (never a downloaded one), headless, driven by Playwright."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of every alert/confirm/prompt the page opened (an XSS would show up here)."""
    return []


# --- the moderation queue ------------------------------------------------------------------


@pytest.fixture
def queued_comment(db: Database, site_key: str, settings: Settings) -> Callable[..., int]:
    """Put a comment in the moderation queue as scoring would, without a worker; returns its id.

    The toxicity must fall between the approve and reject thresholds (0.08 and 0.97 by default).
    """

    def make(
        body: str = "I am not sure the council read its own report.",
        toxicity: float = 0.5,
        article: dict[str, Any] | None = None,
        author: dict[str, Any] | None = None,
        key: str | None = None,  # another site's key (default: the test's site)
    ) -> int:
        data = CommentIn.model_validate(
            {
                "article": article or {"id": "story-1", "title": "City budget"},
                "author": author or {"id": "reader-1"},
                "body": body,
            }
        )
        with db.session() as session:
            site = accounts.site_for_key(session, key or site_key)
            comment_id = moderation.submit_comment(session, site, data).comment.id
            session.commit()
            result = moderation.ScorerResult("test", "1", {"toxicity": toxicity})
            comment = moderation.record_scores(session, comment_id, [result], settings)
            assert comment is not None and comment.status == "queued", "toxicity not between thresholds"
        return comment_id

    return make


# --- a stand-in Akismet on loopback -------------------------------------------------------


@dataclass
class FakeAkismet:
    endpoint: str
    forms: list[dict[str, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def fake_akismet(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAkismet]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    stop = threading.Event()
    fake = FakeAkismet(endpoint="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8")))
            fake.forms.append(form)
            fake.headers.append(dict(self.headers.items()))
            fake.paths.append(self.path)
            content = form.get("comment_content", "")
            extra: dict[str, str] = {}
            if self.path.endswith(("/submit-spam", "/submit-ham")):
                body = "Thanks for making the web a better place."
            elif "blog" not in form:
                body, extra = "invalid", {"X-akismet-debug-help": "Empty 'blog' value"}
            elif "slow" in content:
                stop.wait(3)
                body = "false"
            elif "casino" in content:
                body, extra = "true", {"X-akismet-pro-tip": "discard"}
            elif "viagra" in content:
                body = "true"
            else:
                body = "false"
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body.encode())
            except OSError:  # the client gave up (the slow case)
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.endpoint = f"http://127.0.0.1:{server.server_address[1]}/1.1/comment-check"
    try:
        yield fake
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- the dashboard's seeded comments -------------------------------------------------------


@pytest.fixture
def scored_comment(db: Database, site_key: str, settings: Settings) -> Callable[..., int]:
    """A comment scored as the worker would (scores, reasons with spans; the policy decides its
    status), without a worker; ``reports`` readers then report it. Returns its id."""
    from service import policy, reader_reports
    from service.models import Comment
    from service.schemas import ReportIn

    def make(
        body: str = "I am not sure the council read its own report.",
        scores: dict[str, float] | None = None,
        reasons: list[policy.Reason] | None = None,
        reports: int = 0,
        **comment: Any,
    ) -> int:
        data = CommentIn.model_validate(
            {"article": {"id": "story-1", "title": "City budget"}, "author": {"id": "reader-1"}, "body": body}
            | comment
        )
        with db.session() as session:
            site = accounts.site_for_key(session, site_key)
            comment_id = moderation.submit_comment(session, site, data).comment.id
            session.commit()
            result = moderation.ScorerResult("test", "1", scores or {"toxicity": 0.5}, reasons or [])
            moderation.record_scores(session, comment_id, [result], settings)
            for n in range(reports):
                report = ReportIn(reporter_id=f"reader-{100 + n}", reason="abusive", note=f"note {n}")
                reader_reports.submit_report(session, site, session.get(Comment, comment_id), report)
            session.commit()
        return comment_id

    return make


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash dashboard passwords with one PBKDF2 round instead of scrypt (0.2 s a hash, twice per
    login): for tests that log in often and are not about the hash's cost."""
    from functools import partial

    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(
        accounts, "generate_password_hash", partial(generate_password_hash, method="pbkdf2:sha256:1")
    )


def automatic_decisions(session: Session, comment_ids: list[int]) -> dict[int, int]:
    """How many automatic decisions each of these comments has (exactly one each, when nothing
    was lost or decided twice)."""
    from service.models import Decision

    query = (
        select(Decision.comment_id, func.count())
        .where(Decision.comment_id.in_(comment_ids), Decision.by == "auto")
        .group_by(Decision.comment_id)
    )
    return {comment_id: n for comment_id, n in session.execute(query)}
