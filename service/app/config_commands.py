"""``stet config``: the settings this installation runs with."""

from __future__ import annotations

import os

import click


@click.group()
def config() -> None:
    """The installation's settings (STET_* environment variables)."""


@config.command("check")
def config_check() -> None:
    """Print every setting in effect (secrets masked) and where it came from; exit 1 when one is bad.
    Unknown STET_* names are warned about on standard error, with the closest setting.

    Run it with the environment the services get (e.g. `docker compose run api stet config check`).
    """
    from service.config import Settings, SettingsError, env_name, raw_values

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        for problem in str(exc).split("; "):
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None
    given = raw_values(os.environ)
    for name, value in settings.shown().items():
        field = name.removeprefix("STET_").lower()
        source = ""
        if field in given:
            source = "from file" if os.environ.get(f"{env_name(field)}_FILE") else "set"
        click.echo(f"{name}={value}" + (f"  ({source})" if source else ""))
