"""Alembic environment: the URL comes from Stet's Settings (or the caller's config)."""

from __future__ import annotations

from alembic import context

from service.config import Settings
from service.db import make_engine
from service.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings.from_env().sqlalchemy_url


def run_migrations_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
