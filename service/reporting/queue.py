"""The queue: how many comments waited for a person over time, and how long they waited.

Backlog is counted back from now: the comments queued now, minus those that entered the queue
after a moment, plus those that left it after that moment (every ``Decision`` into ``queued``
enters, every decision out of ``queued`` leaves). Time to decision is from the comment's arrival
to a person's decision, the wait a reader sees; percentiles are nearest-rank over whole minutes
waited (rounded down), from ``rollup``'s per-minute counts.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.models import Article, Comment, Status, utcnow
from service.reporting import rollup
from service.reporting.period import SLOT_SECONDS
from service.reporting.result import Chart, EditorReport, Table, nearest_rank
from service.reporting.scope import Scope

WAIT_BINS = [
    (0, "under 5 min"),
    (300, "5–15 min"),
    (900, "15–60 min"),
    (3600, "1–4 h"),
    (14400, "4–24 h"),
    (86400, "over a day"),
]
OLDEST = 5


def build(session: Session, scope: Scope, now: datetime | None = None) -> EditorReport:
    now = now or utcnow()
    period = scope.period
    waiting_now = (
        session.scalar(
            scope.comments(
                select(func.count()).select_from(Comment).where(Comment.status == Status.QUEUED.value)
            )
        )
        or 0
    )
    moves = [
        (at, change)
        for at, _measure, _key, change in rollup.counts(
            session, scope, ("queue",), period.start, max(now, period.end) + timedelta(days=1)
        )
    ]
    after_end = sum(change for at, change in moves if at * SLOT_SECONDS >= period.end.timestamp())
    per_bucket = period.series(moves)
    backlog: list[float] = []
    level: float = waiting_now - after_end
    for change in reversed(per_bucket):  # the level at each bucket's end, walking back in time
        backlog.append(level)
        level -= change
    backlog.reverse()
    backlog_table = Table(
        "backlog",
        f"Comments waiting at the end of each {period.bucket}",
        ["Bucket", "Waiting"],
        [
            [label, int(level)]
            for (key, label), level in zip(period.buckets(), backlog, strict=True)
            if period.begun(key, now)
        ],
    )

    waited: Counter[int] = Counter()
    for _at, _measure, minutes, n in rollup.counts(session, scope, ("wait",), period.start, period.end):
        waited[int(minutes)] += n
    count = sum(waited.values())

    waits = Table(
        "waits",
        "Time from arrival to a moderator's decision",
        ["Waited", "Comments"],
        [
            [name, sum(n for m, n in waited.items() if low <= m * 60 < high)]
            for (low, name), high in zip(WAIT_BINS, [b[0] for b in WAIT_BINS[1:]] + [math.inf], strict=True)
        ],
    )
    oldest_rows = session.execute(
        scope.comments(
            select(Comment.id, Comment.created_at, Article.title, Article.external_id, Article.url)
            .join(Article, Article.id == Comment.article_id)
            .where(Comment.status == Status.QUEUED.value)
        )
        .order_by(Comment.created_at, Comment.id)
        .limit(OLDEST)
    ).all()
    oldest = Table(
        "oldest",
        "Oldest comments waiting now",
        ["Comment", "Arrived", "Hours waiting", "Article", "URL"],
        [
            [
                cid,
                _local(created, scope),
                round((now - created).total_seconds() / 3600, 1),
                title or external_id,
                url,
            ]
            for cid, created, title, external_id, url in oldest_rows
        ],
        links={"Article": "URL"},
    )
    median, p90 = nearest_rank(waited, 0.5), nearest_rank(waited, 0.9)  # whole minutes, rounded down
    return EditorReport(
        "queue",
        "The queue",
        figures={
            "Waiting now": waiting_now,
            "Decided by moderators": count,
            "Median minutes to decision": None if median is None else float(median),
            "90th percentile minutes to decision": None if p90 is None else float(p90),
            "Oldest waiting, hours": oldest.rows[0][2] if oldest.rows else None,
        },
        tables=[backlog_table, waits, oldest],
        charts=[
            Chart("Backlog", "line", "backlog", "Bucket", ["Waiting"]),
            Chart("Time to decision", "bar", "waits", "Waited", ["Comments"]),
        ],
    )


def _local(instant: datetime, scope: Scope) -> str:
    return instant.astimezone(UTC).astimezone(scope.period.zone).strftime("%Y-%m-%d %H:%M %Z")
