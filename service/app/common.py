"""What every ``stet`` command group shares."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from service.config import Settings, SettingsError


def env_settings() -> Settings:
    """The installation's settings, from the ``STET_*`` environment; bad ones end the command with
    what is wrong, not a traceback."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(f"bad settings: {exc}") from None


def database_for(settings: Settings):  # type: ignore[no-untyped-def]
    """A database for one command (the commands import their models lazily: ``stet --help`` stays fast)."""
    from service.db import Database

    return Database(settings.sqlalchemy_url)


@contextmanager
def command_session() -> Iterator[Session]:
    """A session for one command; its engine is disposed after, so a command run inside another
    process (the tests' ``runner``) leaves no connection open."""
    database = database_for(env_settings())
    try:
        with database.session() as session:
            yield session
    finally:
        database.engine.dispose()
