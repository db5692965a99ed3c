"""Volume over time: comments received, what the model did with them, what people did; and the
languages they came in (a comment too short to tell counts in its site's language)."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.models import Comment, Status
from service.reporting import rollup
from service.reporting.result import Cell, Chart, EditorReport, Table
from service.reporting.scope import Scope

SERIES = {
    "Received": None,
    "Auto-approved": ("auto", Status.APPROVED),
    "Auto-rejected": ("auto", Status.REJECTED),
    "Queued": ("auto", Status.QUEUED),
    "Decided by moderators": ("moderator", None),
    "Reported by readers": None,
}


def build(session: Session, scope: Scope) -> EditorReport:
    period = scope.period
    series: dict[str, list[tuple[int, int]]] = {name: [] for name in SERIES}
    for at, measure, key, count in rollup.counts(
        session, scope, ("received", "decision", "reported"), period.start, period.end
    ):
        if measure != "decision":
            series["Received" if measure == "received" else "Reported by readers"].append((at, count))
            continue
        by, status = key.split(":")
        for name, rule in SERIES.items():
            if rule is not None and rule[0] == by and rule[1] in (None, status):
                series[name].append((at, count))
    columns = {name: period.series(series[name]) for name in SERIES}
    labels = [label for _key, label in period.buckets()]
    rows: list[list[Cell]] = [
        [label, *(int(columns[name][i]) for name in SERIES)] for i, label in enumerate(labels)
    ]
    table = Table("volume", f"Comments per {period.bucket}", ["Bucket", *SERIES], rows)
    return EditorReport(
        "volume",
        "Volume",
        figures={name: int(sum(values)) for name, values in columns.items()},
        tables=[table, languages(session, scope)],
        charts=[
            Chart(f"Comments per {period.bucket}", "line", "volume", "Bucket", list(SERIES)),
            Chart("Comments per language", "bar", "languages", "Language", ["Comments"]),
        ],
    )


def languages(session: Session, scope: Scope) -> Table:
    """Comments received in the period per detected language, and how many wait for a person."""
    spoken = func.coalesce(Comment.language, scope.site.language).label("language")
    queued = func.sum(case((Comment.status == Status.QUEUED.value, 1), else_=0))
    stmt = scope.during(
        scope.comments(select(spoken, func.count(), queued)),
        Comment.created_at,
    ).group_by(spoken)
    counted = sorted(session.execute(stmt).all(), key=lambda row: (-row[1], row[0]))
    total = sum(row[1] for row in counted) or 1
    return Table(
        "languages",
        "Languages",
        ["Language", "Comments", "Share", "Waiting for a person"],
        [[code, n, round(n / total, 4), int(waiting or 0)] for code, n, waiting in counted],
        percent=("Share",),
    )
