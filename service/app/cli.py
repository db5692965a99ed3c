"""The ``stet`` command: run the service; the command groups live beside it (``*_commands``)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import click
from sqlalchemy import func, select

from service.app import (
    admin_commands,
    config_commands,
    model_commands,
    report_commands,
    scoring_commands,
    site_commands,
)
from service.app.common import database_for, env_settings, pin_threads
from service.config import Settings


@click.group()
def cli() -> None:
    """Stet: comment moderation for newsrooms."""


# --- the processes -------------------------------------------------------------------------


def stop_on_signals() -> None:
    """SIGTERM and Ctrl-C (SIGINT) stop this process, even when it was started from a shell or
    script that ignores SIGINT (``stet run &``), which its children would inherit."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)


def observe(settings: Settings, metrics_kind: str | None = None) -> None:
    """Logs in STET_LOG_FORMAT, metrics counted across the processes this one forks (``metrics_kind``
    names their directory), and Sentry when STET_SENTRY_DSN is set; before anything else runs."""
    from service import logs, metrics
    from service.app import sentry

    try:
        logs.configure(settings.log_format, settings.log_level)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if metrics_kind:
        metrics.use_directory(metrics_kind)
    sentry.init(settings)


@cli.command()
@click.option("--workers", default=2, show_default=True, help="Server processes.")
@click.option("--threads", default=4, show_default=True, help="Request threads per process.")
def api(workers: int, threads: int) -> None:
    """Serve the HTTP API (/api/v1) and the dashboard (/dashboard)."""
    from service.app.server import serve

    pin_threads(workers)
    settings = env_settings()
    observe(settings, "api")
    click.echo(f"Stet API on http://{settings.host}:{settings.port} ({workers} processes)", err=True)
    serve(settings, workers, threads)  # gunicorn's master stops on SIGTERM and SIGINT


@cli.command()
@click.option("--concurrency", "-c", default=2, show_default=True, help="Worker processes.")
@click.option(
    "--beat/--no-beat",
    default=True,
    show_default=True,
    help="Also run the periodic sweeps here; with several workers, run one `stet beat` and --no-beat.",
)
def worker(concurrency: int, beat: bool) -> None:
    """Run a Celery worker that scores comments (with the periodic sweep of pending ones)."""
    pin_threads(concurrency)
    settings = env_settings()
    observe(settings, "worker")
    from worker.celery_app import celery
    from worker.enqueue import QUEUE

    settings.home.mkdir(parents=True, exist_ok=True)
    schedule = ["--beat", f"--schedule={_beat_schedule(settings)}"] if beat else []
    celery.worker_main(
        [
            "worker",
            *schedule,
            f"--queues={QUEUE}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@cli.command()
def beat() -> None:
    """Run the periodic sweeps (pending comments, webhook deliveries, report rollups) alone: one per
    installation, beside workers started with --no-beat."""
    settings = env_settings()
    observe(settings)
    from worker.celery_app import celery

    settings.home.mkdir(parents=True, exist_ok=True)
    celery.start(["beat", f"--schedule={_beat_schedule(settings)}", "--loglevel=INFO"])


def _beat_schedule(settings: Settings) -> Path:
    return (settings.home / "celerybeat-schedule").resolve()


@cli.command()
@click.option("--concurrency", "-c", default=2, show_default=True, help="Worker processes.")
def run(concurrency: int) -> None:
    """Run everything on this machine: database, Redis, API, dashboard and a worker.

    Uses SQLite in $STET_HOME and starts a private Redis unless STET_REDIS_URL
    names one. Ctrl-C stops all of it.
    """
    from service.app import sentry
    from service.embedded import EmbeddedRedis, RedisNotFound, die_with_parent
    from service.migrate import upgrade

    settings = env_settings()
    sentry.require(settings)  # here, or the children would fail and be restarted over and over
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    first_run = _first_run_setup(settings)
    with ExitStack() as stack:
        redis_url = settings.redis_url
        if not redis_url:
            try:
                redis_url = stack.enter_context(EmbeddedRedis(home / "redis")).url
            except RedisNotFound as exc:
                raise click.ClickException(str(exc)) from None
        env = {**os.environ, "STET_HOME": str(home), "STET_REDIS_URL": redis_url}
        commands = {
            "api": [sys.executable, "-m", "service.app.cli", "api"],
            "worker": [sys.executable, "-m", "service.app.cli", "worker", "-c", str(concurrency)],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}

        def start(name: str) -> None:
            children[name] = subprocess.Popen(commands[name], env=env, preexec_fn=die_with_parent)

        def stop_all() -> None:
            for stop in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the cleanup short
                signal.signal(stop, signal.SIG_IGN)
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            for child in children.values():
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()

        stack.callback(stop_all)
        stop_on_signals()
        for name in commands:
            start(name)
        base = f"http://{settings.host}:{settings.port}"
        embedded = "" if settings.redis_url else " (embedded)"
        click.echo(
            f"\nStet is running.\n  API:       {base}/api/v1\n  Dashboard: {base}/dashboard\n"
            f"  Data:      {home}\n  Broker:    {redis_url}{embedded}\n"
        )
        click.echo(first_run or "  Log in with a user made by `stet user create NAME --role admin`.\n")
        click.echo("Press Ctrl-C to stop.")
        try:
            while True:
                time.sleep(1)
                for name, child in list(children.items()):
                    if child.poll() is not None:
                        click.echo(f"{name} exited with code {child.returncode}; restarting it", err=True)
                        time.sleep(1)
                        start(name)
        except (KeyboardInterrupt, SystemExit):
            click.echo("\nStopping Stet…")


def _first_run_setup(settings: Settings) -> str:
    """On an empty installation make an admin and a demo site, and say how to use them."""
    from service import accounts
    from service.models import Role, Site, User

    db = database_for(settings)
    lines = []
    with db.session() as session:
        if not session.scalar(select(func.count()).select_from(User)):
            password = secrets.token_urlsafe(12)
            accounts.create_user(session, "admin", Role.ADMIN, password)
            lines.append(f"  Dashboard login: admin / {password}")
        if not session.scalar(select(func.count()).select_from(Site)):
            _site, key = accounts.create_site(session, "demo")
            lines.append(f"  API key of site 'demo': {key}")
        session.commit()
    db.engine.dispose()
    if not lines:
        return ""
    text = "First run: these are shown once and kept in first-run.txt (readable by you only).\n"
    text += "\n".join(lines) + "\n"
    path = settings.home / "first-run.txt"
    path.write_text(text)
    path.chmod(0o600)
    return text


cli.add_command(admin_commands.db)
cli.add_command(config_commands.config)
cli.add_command(site_commands.site)
cli.add_command(admin_commands.user)
cli.add_command(model_commands.model)
cli.add_command(report_commands.report)
cli.add_command(scoring_commands.score)
cli.add_command(scoring_commands.rescore)

if __name__ == "__main__":
    cli()
