"""What every ``stet`` command group shares."""

from __future__ import annotations

from service.config import Settings


def env_settings() -> Settings:
    """The installation's settings, from the ``STET_*`` environment."""
    return Settings.from_env()


def database_for(settings: Settings):  # type: ignore[no-untyped-def]
    """A database for one command (the commands import their models lazily: ``stet --help`` stays fast)."""
    from service.db import Database

    return Database(settings.sqlalchemy_url)
