"""Moderators: decisions per person, median handling time and how often each overturned the model.

For coaching and workload, not surveillance: only admins see it. Stet does not record when a
moderator opened a comment, so handling time is the gap since the same moderator's previous
decision on this site, counted only within a working session (gaps under ``SESSION_GAP``).
The model's lean on a comment is its own decision when it made one, otherwise reject when the
comment's risk (its highest toxicity or spam score) is at least 0.5; a moderator decision against
that lean is an overturn.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from service.models import Comment, Decision, Status, User
from service.reporting.result import Chart, Report, Table, share
from service.reporting.scope import Scope, epoch

SESSION_GAP = 600  # seconds
LEAN_REJECT = 0.5


def build(session: Session, scope: Scope) -> Report:
    previous = func.lag(Decision.created_at).over(
        partition_by=Decision.user_id, order_by=(Decision.created_at, Decision.id)
    )
    lean = case(
        (Decision.from_status.in_([Status.APPROVED.value, Status.REJECTED.value]), Decision.from_status),
        (Comment.risk >= LEAN_REJECT, Status.REJECTED.value),
        else_=Status.APPROVED.value,
    )
    decisions = scope.during(
        select(
            Decision.user_id,
            Comment.article_id,
            Decision.status,
            case((Decision.status != lean, 1), else_=0).label("overturned"),
            (epoch(Decision.created_at) - epoch(previous)).label("gap"),
        )
        .join(Comment, Comment.id == Decision.comment_id)
        .where(Comment.site_id == scope.site.id, Decision.by == "moderator"),
        Decision.created_at,
    ).subquery()
    mine = scope.articles(select(decisions), decisions.c.article_id).subquery()
    # One pass: the median gap is the lower middle of each moderator's in-session gaps.
    in_session = case((and_(mine.c.gap.is_not(None), mine.c.gap < SESSION_GAP), 1), else_=0)
    ranked = select(
        mine,
        in_session.label("in_session"),
        func.row_number().over(partition_by=(mine.c.user_id, in_session), order_by=mine.c.gap).label("rank"),
        func.count().over(partition_by=(mine.c.user_id, in_session)).label("n"),
    ).subquery()
    middle = and_(ranked.c.in_session == 1, ranked.c.rank == (ranked.c.n + 1) // 2)
    counted = {
        row[0]: row[1:]
        for row in session.execute(
            select(
                ranked.c.user_id,
                func.count(),
                func.sum(case((ranked.c.status == Status.APPROVED.value, 1), else_=0)),
                func.sum(case((ranked.c.status == Status.REJECTED.value, 1), else_=0)),
                func.sum(ranked.c.overturned),
                func.max(case((middle, ranked.c.gap))),
            ).group_by(ranked.c.user_id)
        )
    }
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(list(counted)))).all())
    rows = sorted(
        (
            [
                names.get(user_id, f"user {user_id}"),
                total,
                int(approved),
                int(rejected),
                median,
                int(overturned),
                share(overturned, total),
            ]
            for user_id, (total, approved, rejected, overturned, median) in counted.items()
        ),
        key=lambda row: (-row[1], row[0]),
    )
    table = Table(
        "moderators",
        "Decisions per moderator",
        [
            "Moderator",
            "Decisions",
            "Approved",
            "Rejected",
            "Median handling seconds",
            "Overturned",
            "Overturn rate",
        ],
        rows,
        percent=("Overturn rate",),
    )
    total = sum(row[1] for row in rows)
    return Report(
        "moderators",
        "Moderators",
        figures={
            "Moderators active": len(rows),
            "Decisions": total,
            "Overturn rate": share(sum(row[5] for row in rows), total),
        },
        tables=[table],
        charts=[Chart("Decisions per moderator", "bar", "moderators", "Moderator", ["Approved", "Rejected"])],
        notes=[
            "Handling time is the gap since the moderator's previous decision, within a working session "
            f"(under {SESSION_GAP // 60} minutes). An overturn is a decision against the model's lean.",
        ],
    )
