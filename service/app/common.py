"""What every ``stet`` command group shares."""

from __future__ import annotations

import os
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


# The thread pools of the numeric libraries a scorer may use; each reads its variable when loaded.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pin_threads(processes: int) -> int:
    """Give each of ``processes`` processes an equal share of the cores for torch, ONNX Runtime and
    BLAS, unless the operator set OMP_NUM_THREADS: left alone, each process starts one thread per
    core, and two worker processes on two cores ran the transformer at a fifth of the speed (issue
    19's measurements: 10-14 against 51-61 comments/s). Call before any of them is imported; the
    processes this one starts inherit it. Returns the threads per process."""
    threads = int(os.environ.get("OMP_NUM_THREADS") or max(1, (os.cpu_count() or 1) // max(1, processes)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    return threads


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
