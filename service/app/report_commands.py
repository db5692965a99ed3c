"""``stet report weekly`` (the weekly digest) and ``stet report rollup`` from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from service.app.common import env_settings


@click.group()
def report() -> None:
    """Reports for editors."""


@report.command("weekly")
@click.option("--site", "site_name", required=True, help="The site's name.")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="HTML file (default: standard output)."
)
def weekly(site_name: str, out: Path | None) -> None:
    """Write a self-contained HTML digest comparing last week (Monday to Sunday, the site's zone)
    with the week before, to mail around."""
    from sqlalchemy import select

    from dashboard import digest
    from service.db import Database
    from service.models import Site

    settings = env_settings()
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            site = session.scalar(select(Site).where(Site.name == site_name))
            if site is None:
                raise click.ClickException(f"no site named {site_name!r}")
            html = digest.weekly(session, site, settings)
    finally:
        database.engine.dispose()
    if out is None:
        sys.stdout.write(html)
    else:
        out.write_text(html, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@report.command("rollup")
@click.option("--site", "site_name", help="One site's name (default: every site).")
@click.option(
    "--rebuild", is_flag=True, help="Drop the rolled-up counts first (after importing old history)."
)
def rollup_command(site_name: str | None, rebuild: bool) -> None:
    """Bring the report rollup up to date (the worker does this every five minutes)."""
    import time
    from datetime import datetime, timedelta

    from sqlalchemy import func, select
    from tqdm import tqdm

    from service.db import Database
    from service.models import Comment, ReportRollupState, Site
    from service.reporting import rollup

    settings = env_settings()
    database = Database(settings.sqlalchemy_url)
    try:
        with database.session() as session:
            query = select(Site).order_by(Site.name)
            if site_name:
                query = query.where(Site.name == site_name)
            sites = list(session.scalars(query))
            if site_name and not sites:
                raise click.ClickException(f"no site named {site_name!r}")
            for site in sites:
                began = time.perf_counter()
                if rebuild:
                    rollup.invalidate(session, site.id)
                    session.commit()
                state = session.get(ReportRollupState, site.id)
                start = (
                    state.until
                    if state
                    else session.scalar(
                        select(func.min(Comment.created_at)).where(Comment.site_id == site.id)
                    )
                )
                with tqdm(desc=site.name, unit=" days", file=sys.stderr, leave=False) as bar:

                    def step(reached: datetime, horizon: datetime, bar: tqdm = bar, start=start) -> None:
                        bar.total = round((horizon - start) / timedelta(days=1))
                        bar.n = round((reached - start) / timedelta(days=1))
                        bar.refresh()

                    until = rollup.fill_site(session, site, settings, progress=step)
                took = time.perf_counter() - began
                click.echo(f"{site.name}: rolled up to {until:%Y-%m-%d %H:%M} UTC in {took:.1f} s")
    finally:
        database.engine.dispose()
