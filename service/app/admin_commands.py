"""``stet db`` (the schema) and ``stet user`` (dashboard accounts)."""

from __future__ import annotations

import sys

import click

from service.app.common import command_session, env_settings

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


def _password() -> str:
    """A password from a prompt (asked twice) or the first line of standard input."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["moderator", "editor", "admin"]), default="moderator", show_default=True
)
def user_create(name: str, role: str) -> None:
    """Create a dashboard user; the password comes from a prompt or standard input."""
    from service import accounts
    from service.models import Role

    password = _password()
    with command_session() as session:
        try:
            accounts.create_user(session, name, Role(role), password)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"created {role} {name!r}", err=True)


@user.command("password")
@click.argument("name")
def user_password(name: str) -> None:
    """Give a dashboard user a new password (prompt or standard input); their sessions end."""
    from sqlalchemy import select

    from service import accounts
    from service.models import User

    password = _password()
    with command_session() as session:
        found = session.scalar(select(User).where(User.name == name))
        if found is None:
            raise click.ClickException(f"no user named {name!r}")
        try:
            accounts.set_password(session, found, password)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        session.commit()
    click.echo(f"new password for {name!r}; their sessions have ended", err=True)
