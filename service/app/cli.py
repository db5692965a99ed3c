"""The ``stet`` command: run the service, manage sites, users, the database and models."""

from __future__ import annotations

import json
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

from service.app import report_commands, scoring_commands, webhook_commands
from service.config import Settings


def _settings() -> Settings:
    return Settings.from_env()


def _database(settings: Settings):  # type: ignore[no-untyped-def]
    from service.db import Database

    return Database(settings.sqlalchemy_url)


@click.group()
def cli() -> None:
    """Stet: comment moderation for newsrooms."""


# --- the processes -------------------------------------------------------------------------


@cli.command()
@click.option("--threads", default=8, show_default=True, help="Request threads.")
def api(threads: int) -> None:
    """Serve the HTTP API (/api/v1) and the dashboard (/dashboard)."""
    import waitress

    from service.api.perspective import scorer_named
    from service.app import create_app

    settings = _settings()
    # Loaded before the first request, so Perspective's first call is as fast as the rest.
    scorer_named(settings.scorers)
    click.echo(f"Stet API on http://{settings.host}:{settings.port}", err=True)
    waitress.serve(create_app(settings), host=settings.host, port=settings.port, threads=threads)


@cli.command()
@click.option("--concurrency", "-c", default=2, show_default=True, help="Worker processes.")
def worker(concurrency: int) -> None:
    """Run a Celery worker that scores comments, with the periodic sweep of pending ones."""
    from worker.celery_app import celery
    from worker.enqueue import QUEUE

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    celery.worker_main(
        [
            "worker",
            "--beat",
            f"--schedule={(settings.home / 'celerybeat-schedule').resolve()}",
            f"--queues={QUEUE}",
            f"--concurrency={concurrency}",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@cli.command()
@click.option("--concurrency", "-c", default=2, show_default=True, help="Worker processes.")
def run(concurrency: int) -> None:
    """Run everything on this machine: database, Redis, API, dashboard and a worker.

    Uses SQLite in $STET_HOME and starts a private Redis unless STET_REDIS_URL
    names one. Ctrl-C stops all of it.
    """
    from service.embedded import EmbeddedRedis, die_with_parent
    from service.migrate import upgrade

    settings = _settings()
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    first_run = _first_run_setup(settings)
    with ExitStack() as stack:
        redis_url = settings.redis_url
        if not redis_url:
            redis_url = stack.enter_context(EmbeddedRedis(home / "redis")).url
        env = {**os.environ, "STET_HOME": str(home), "STET_REDIS_URL": redis_url}
        commands = {
            "api": [sys.executable, "-m", "service.app.cli", "api"],
            "worker": [sys.executable, "-m", "service.app.cli", "worker", "-c", str(concurrency)],
        }
        children: dict[str, subprocess.Popen[bytes]] = {}

        def start(name: str) -> None:
            children[name] = subprocess.Popen(commands[name], env=env, preexec_fn=die_with_parent)

        def stop_all() -> None:
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            for child in children.values():
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()

        stack.callback(stop_all)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        # Ctrl-C stops everything, even when started from a shell that ignores SIGINT (`cmd &`).
        signal.signal(signal.SIGINT, signal.default_int_handler)
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
        except KeyboardInterrupt:
            click.echo("\nStopping Stet…")


def _first_run_setup(settings: Settings) -> str:
    """On an empty installation make an admin and a demo site, and say how to use them."""
    from service import accounts
    from service.models import Role, Site, User

    db = _database(settings)
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


# --- database, sites and users -------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from service.migrate import upgrade

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url, revision)
    click.echo("database is up to date", err=True)


@cli.group()
def site() -> None:
    """News sites and their API keys."""


@site.command("create")
@click.argument("name")
@click.option(
    "--language", default="en", show_default=True, help="The language the site publishes in (ISO 639-1)."
)
def site_create(name: str, language: str) -> None:
    """Create site NAME and print its API key (alone, on standard output, once)."""
    from service import accounts

    with _database(_settings()).session() as session:
        try:
            new, key = accounts.create_site(session, name)
            if language != "en":
                accounts.set_language(session, new, language)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(key)


@site.command("coral")
@click.argument("name")
@click.option(
    "--secret", required=True, help="The signing secret Coral shows for the phase ('' turns it off)."
)
def site_coral(name: str, secret: str) -> None:
    """Answer Coral's external moderation phase for site NAME (POST /api/v1/coral/moderation?key=KEY)."""
    from service import accounts
    from service.models import Site

    with _database(_settings()).session() as session:
        found = session.scalar(select(Site).where(Site.name == name))
        if found is None:
            raise click.ClickException(f"no site named {name!r}")
        try:
            accounts.set_coral_secret(session, found, secret)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo("Coral external moderation " + ("on" if secret else "off") + f" for {name}")


@site.command("words")
@click.argument("name")
@click.option("--banned", multiple=True, help="Reject comments with this word or phrase (* is a wildcard).")
@click.option("--suspect", multiple=True, help="Queue comments with this word or phrase for a person.")
@click.option(
    "--allowed-domain", multiple=True, help="Links to this domain (or *.domain) are no spam signal."
)
@click.option("--remove", is_flag=True, help="Remove the given entries instead of adding them.")
def site_words(
    name: str,
    banned: tuple[str, ...],
    suspect: tuple[str, ...],
    allowed_domain: tuple[str, ...],
    remove: bool,
) -> None:
    """Change site NAME's word lists, then print them."""
    from service import accounts
    from service.models import WordKind
    from service.wordlists import WordLists

    changes = {WordKind.BANNED: banned, WordKind.SUSPECT: suspect, WordKind.ALLOWED_DOMAIN: allowed_domain}
    try:
        WordLists(banned, suspect, allowed_domain)  # refuse what the worker could not match
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    with _database(_settings()).session() as session:
        try:
            lists = accounts.change_words(session, name, changes, remove=remove)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    for kind, patterns in lists.items():
        click.echo(f"{kind.value}: {', '.join(patterns) or '-'}")


@site.command("akismet")
@click.argument("name")
@click.option("--key", help="The site's Akismet API key.")
@click.option("--blog", help="The site's home page URL, as registered with Akismet.")
@click.option("--off", is_flag=True, help="Stop checking this site's comments with Akismet.")
def site_akismet(name: str, key: str | None, blog: str | None, off: bool) -> None:
    """Check site NAME's comments with Akismet as one more spam signal (sends their text to Akismet)."""
    from service import accounts

    if off == bool(key):
        raise click.UsageError("give --key and --blog to turn Akismet on, or --off")
    with _database(_settings()).session() as session:
        try:
            accounts.set_akismet(session, name, None if off else key, blog)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"Akismet is {'off' if off else 'on'} for {name}", err=True)


site.add_command(webhook_commands.webhook)


@cli.group()
def user() -> None:
    """Dashboard accounts."""


@user.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["moderator", "editor", "admin"]), default="moderator", show_default=True
)
def user_create(name: str, role: str) -> None:
    """Create a dashboard user; the password comes from a prompt or standard input."""
    from service import accounts
    from service.models import Role

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    database = _database(_settings())
    try:
        with database.session() as session:
            try:
                accounts.create_user(session, name, Role(role), password)
            except accounts.AccountError as exc:
                raise click.ClickException(str(exc)) from None
            session.commit()
    finally:
        database.engine.dispose()  # a CLI run inside a test process must not leave a connection open
    click.echo(f"created {role} {name!r}", err=True)


# --- models --------------------------------------------------------------------------------


@cli.group()
def model() -> None:
    """Train and evaluate the scoring models."""


TASKS = click.Choice(["toxicity", "spam"])


@model.command("train")
@click.option(
    "--task",
    type=click.Choice([*TASKS.choices, "attributes", "transformer"]),
    default="toxicity",
    show_default=True,
    help="attributes: the default scorer's seven heads (data: the shared data folder).",
)
@click.option(
    "--data", type=click.Path(exists=True, path_type=Path), help="Training data (default: the shared set)."
)
@click.option("--out", type=click.Path(path_type=Path), help="Artifact folder (default: the shipped models).")
@click.option("--steps", default=220, show_default=True, help="transformer: optimiser steps (resumable).")
@click.option("--minutes", type=float, help="transformer: stop training after this long (rerun to continue).")
def model_train(task: str, data: Path | None, out: Path | None, steps: int, minutes: float | None) -> None:
    """Train a model and report its held-out metrics (transformer: data is the shared data folder)."""
    from worker import training
    from worker.training import spam as spam_training

    if task == "attributes":
        from worker.training.attributes import train_attributes

        result = train_attributes(data, out, progress=True)
    elif task == "transformer":
        from worker.training.transformer import train_transformer

        result = train_transformer(data, out, steps=steps, minutes=minutes, progress=True)
    elif task == "spam":
        result = spam_training.train_spam(data, out, progress=True)
    else:
        result = training.train_toxicity(data, out, progress=True)
    click.echo(json.dumps(result, indent=2))


@model.command("eval")
@click.option(
    "--task",
    type=click.Choice([*TASKS.choices, "attributes"]),
    default="toxicity",
    show_default=True,
    help="attributes: the default scorer, every attribute per source, and the decision mix.",
)
@click.option(
    "--data", type=click.Path(exists=True, path_type=Path), help="Evaluation data (default: the shared set)."
)
@click.option(
    "--model", "model_path", type=click.Path(exists=True, path_type=Path), help="Artifact (default: shipped)."
)
@click.option("--scorer", "scorers", multiple=True, help="toxicity: only this scorer (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), default="model-eval", show_default=True)
@click.option("--limit", type=int, help="toxicity: score at most this many toxicity test comments.")
def model_eval(
    task: str,
    data: Path | None,
    model_path: Path | None,
    scorers: tuple[str, ...],
    out: Path,
    limit: int | None,
) -> None:
    """Evaluate on held-out data (toxicity: every scorer, Markdown + plots; spam: leave-one-video-out)."""
    from worker.training import spam as spam_training

    if task == "spam":
        click.echo(json.dumps(spam_training.evaluate_spam(data, model_path, progress=True), indent=2))
    elif task == "attributes":
        from worker.training.attribute_eval import evaluate_attributes, markdown

        click.echo(markdown(evaluate_attributes(data, out, model=model_path, progress=True)))
    else:
        scoring_commands.model_eval(scorers, model_path, data, out, limit)


cli.add_command(report_commands.report)
cli.add_command(scoring_commands.score)
cli.add_command(scoring_commands.rescore)

if __name__ == "__main__":
    cli()
