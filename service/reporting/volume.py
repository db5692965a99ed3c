"""Volume over time: comments received, what the model did with them, what people did."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Comment, Decision, Status
from service.models import Report as ReaderReport
from service.reporting.result import Chart, Report, Table
from service.reporting.scope import Scope, slot

SERIES = {
    "Received": None,
    "Auto-approved": ("auto", Status.APPROVED),
    "Auto-rejected": ("auto", Status.REJECTED),
    "Queued": ("auto", Status.QUEUED),
    "Decided by moderators": ("moderator", None),
    "Reported by readers": None,
}


def build(session: Session, scope: Scope) -> Report:
    period = scope.period
    received = session.execute(
        scope.during(
            scope.comments(select(slot(Comment.created_at), func.count())), Comment.created_at
        ).group_by("slot")
    )
    decided: dict[str, list[tuple[int, int]]] = {name: [] for name in SERIES}
    decisions = scope.during(
        scope.comments(
            select(slot(Decision.created_at), Decision.by, Decision.status, func.count()).join(
                Comment, Comment.id == Decision.comment_id
            )
        ),
        Decision.created_at,
    ).group_by("slot", Decision.by, Decision.status)
    for at, by, status, count in session.execute(decisions):
        for name, rule in SERIES.items():
            if rule is not None and rule[0] == by and rule[1] in (None, status):
                decided[name].append((at, count))
    reported = session.execute(
        scope.during(
            scope.articles(
                select(slot(ReaderReport.created_at), func.count())
                .join(Comment, Comment.id == ReaderReport.comment_id)
                .where(ReaderReport.site_id == scope.site.id),
                Comment.article_id,
            ),
            ReaderReport.created_at,
        ).group_by("slot")
    )
    columns = {
        "Received": period.series(received),
        **{name: period.series(decided[name]) for name in list(SERIES)[1:-1]},
        "Reported by readers": period.series(reported),
    }
    labels = [label for _key, label in period.buckets()]
    rows = [[label, *(int(columns[name][i]) for name in SERIES)] for i, label in enumerate(labels)]
    table = Table("volume", f"Comments per {period.bucket}", ["Bucket", *SERIES], rows)
    return Report(
        "volume",
        "Volume",
        figures={name: int(sum(values)) for name, values in columns.items()},
        tables=[table],
        charts=[Chart(f"Comments per {period.bucket}", "line", "volume", "Bucket", list(SERIES))],
    )
