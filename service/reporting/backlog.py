"""The queue: how many comments waited for a person over time, and how long they waited.

Backlog is counted back from now: the comments queued now, minus those that entered the queue
after a moment, plus those that left it after that moment (every ``Decision`` into ``queued``
enters, every decision out of ``queued`` leaves). Time to decision is from the comment's arrival
to a person's decision, the wait a reader sees; percentiles are nearest-rank, exact, in SQL.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.models import Article, Comment, Decision, Status, utcnow
from service.reporting.period import SLOT_SECONDS
from service.reporting.result import Chart, Report, Table
from service.reporting.scope import Scope, epoch, slot

WAIT_BINS = [
    (0, "under 5 min"),
    (300, "5–15 min"),
    (900, "15–60 min"),
    (3600, "1–4 h"),
    (14400, "4–24 h"),
    (86400, "over a day"),
]
OLDEST = 5


def build(session: Session, scope: Scope, now: datetime | None = None) -> Report:
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
    delta = case((Decision.status == Status.QUEUED.value, 1), else_=0) - case(
        (Decision.from_status == Status.QUEUED.value, 1), else_=0
    )
    moves = session.execute(
        scope.comments(
            select(slot(Decision.created_at), func.sum(delta))
            .join(Comment, Comment.id == Decision.comment_id)
            .where(Decision.created_at >= period.start)
        ).group_by("slot")
    ).all()
    after_end = sum(change for at, change in moves if at * SLOT_SECONDS >= period.end.timestamp())
    per_bucket = period.series((at, change) for at, change in moves)
    backlog, level = [], waiting_now - after_end
    for change in reversed(per_bucket):  # the level at each bucket's end, walking back in time
        backlog.append(level)
        level -= change
    backlog.reverse()
    labels = [label for _key, label in period.buckets()]
    backlog_table = Table(
        "backlog",
        f"Comments waiting at the end of each {period.bucket}",
        ["Bucket", "Waiting"],
        [[label, int(level)] for label, level in zip(labels, backlog, strict=True)],
    )

    wait = (epoch(Decision.created_at) - epoch(Comment.created_at)).label("wait")
    decided = scope.during(
        scope.comments(
            select(wait)
            .join(Comment, Comment.id == Decision.comment_id)
            .where(Decision.by == "moderator", Decision.from_status == Status.QUEUED.value)
        ),
        Decision.created_at,
    ).subquery()
    count = session.scalar(select(func.count()).select_from(decided)) or 0

    def percentile(p: float) -> int | None:
        if not count:
            return None
        rank = max(1, math.ceil(p * count))
        return session.scalar(select(decided.c.wait).order_by(decided.c.wait).offset(rank - 1).limit(1))

    bins = case(*((decided.c.wait >= low, i) for i, (low, _name) in reversed(list(enumerate(WAIT_BINS)))))
    binned = dict(session.execute(select(bins, func.count()).group_by(bins)).all())
    waits = Table(
        "waits",
        "Time from arrival to a moderator's decision",
        ["Waited", "Comments"],
        [[name, binned.get(i, 0)] for i, (_low, name) in enumerate(WAIT_BINS)],
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
    median, p90 = percentile(0.5), percentile(0.9)
    return Report(
        "queue",
        "The queue",
        figures={
            "Waiting now": waiting_now,
            "Decided by moderators": count,
            "Median minutes to decision": _minutes(median),
            "90th percentile minutes to decision": _minutes(p90),
            "Oldest waiting, hours": oldest.rows[0][2] if oldest.rows else None,
        },
        tables=[backlog_table, waits, oldest],
        charts=[
            Chart("Backlog", "line", "backlog", "Bucket", ["Waiting"]),
            Chart("Time to decision", "bar", "waits", "Waited", ["Comments"]),
        ],
    )


def _minutes(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _local(instant: datetime, scope: Scope) -> str:
    return instant.astimezone(UTC).astimezone(scope.period.zone).strftime("%Y-%m-%d %H:%M %Z")
