"""The weekly digest: last week (Monday to Sunday in the site's zone) against the week before, as
one self-contained HTML file (inline SVG and CSS, no links to fetch) an editor can mail around.

No PDF: the pure-pip HTML-to-PDF libraries either need system libraries (WeasyPrint needs Pango)
or draw neither inline SVG nor modern CSS (xhtml2pdf); a browser's "Print to PDF" of this file does.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.orm import Session

from dashboard import charts
from service.config import Settings
from service.models import Site
from service.reporting import articles, moderation, queue, readers, volume
from service.reporting.period import Period, zone_of
from service.reporting.result import Chart, Table
from service.reporting.scope import Scope

env = Environment(loader=PackageLoader("dashboard", "templates"), autoescape=select_autoescape())


def weeks(site: Site, today: date | None = None) -> tuple[Period, Period]:
    """Last complete week and the one before it, in the site's zone."""
    zone = zone_of(site.timezone)
    today = today or datetime.now(zone).date()
    monday = today - timedelta(days=today.weekday())
    last = Period(monday - timedelta(days=7), monday - timedelta(days=1), zone, "day")
    before = Period(monday - timedelta(days=14), monday - timedelta(days=8), zone, "day")
    return last, before


def figures(session: Session, scope: Scope) -> dict[str, object]:
    return {
        **volume.build(session, scope).figures,
        **{k: v for k, v in queue.build(session, scope).figures.items() if "minutes" in k},
        **{k: v for k, v in moderation.build(session, scope).figures.items() if k.startswith("Share")},
        **{k: v for k, v in readers.build(session, scope).figures.items() if k != "Reader reports"},
    }


def weekly(session: Session, site: Site, settings: Settings, today: date | None = None) -> str:
    last, before = weeks(site, today)
    now, then = Scope(site, last, settings), Scope(site, before, settings)
    this_week, week_before = figures(session, now), figures(session, then)
    comparison = [
        [name, value, week_before.get(name), _change(value, week_before.get(name))]
        for name, value in this_week.items()
    ]
    received = volume.build(session, now).table("volume").column("Received")
    earlier = volume.build(session, then).table("volume").column("Received")
    days = Table(
        "days",
        "Comments received per day",
        ["Day", "Last week", "Week before"],
        [
            [day, a, b]
            for day, a, b in zip(
                ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), received, earlier, strict=True
            )
        ],
    )
    chart = charts.render(
        Chart("Comments received per day", "line", "days", "Day", ["Last week", "Week before"]), days
    )
    report = articles.build(session, now)
    problems = readers.build(session, now).table("problems_newest")
    return env.get_template("dashboard/reports/digest.html").render(
        site=site,
        last=last,
        before=before,
        comparison=comparison,
        chart=chart,
        days=days,
        articles=report.table("most_commented"),
        problems=problems,
        share=lambda name: name.startswith("Share"),
    )


def _change(now: object, then: object) -> str:
    if not isinstance(now, int | float) or not isinstance(then, int | float):
        return ""
    if then == 0:
        return "new" if now else "="
    return f"{(now - then) / then:+.0%}"
