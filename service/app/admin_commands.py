"""``stet db`` (the schema) and ``stet user`` (dashboard accounts)."""

from __future__ import annotations

import sys

import click

from service.app.common import database_for, env_settings

# --- database, sites and users -------------------------------------------------------------


@click.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from service.migrate import upgrade

    settings = env_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url, revision)
    click.echo("database is up to date", err=True)


@click.group()
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
    database = database_for(env_settings())
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
