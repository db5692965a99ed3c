"""Event measures computed from the base tables, per slot and section."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from service.models import (
    Article,
    Comment,
    Decision,
    Score,
    Status,
)
from service.models import Report as ReaderReport
from service.reporting.period import SLOT_SECONDS
from service.reporting.rollup.slots import (
    HELD,
    SESSION_GAP,
    VERDICTS,
    Cell,
    Row,
    _at,
    _bucket,
    _merge,
    _rows,
)
from service.reporting.scope import Scope, epoch


def compute(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    seconds: int = SLOT_SECONDS,
    measures: Iterable[str] | None = None,
) -> list[Row]:
    """The event ``measures`` (all by default) per ``seconds``-long slot for the scope's events in
    [start, end), from the base tables: one grouped query per table."""
    return _rows(_cells(session, scope, start, end, seconds, measures))


def _cells(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    seconds: int = SLOT_SECONDS,
    measures: Iterable[str] | None = None,
) -> list[Cell]:
    """``compute`` per section."""
    at = _at(seconds)
    wanted = set(measures) if measures is not None else None

    def want(*names: str) -> bool:
        return wanted is None or not wanted.isdisjoint(names)

    rows: list[Cell] = []
    received = scope.comments(
        select(Article.section, at(Comment.created_at), literal("received"), literal(""), func.count())
        .select_from(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.created_at >= start, Comment.created_at < end)
    ).group_by(Article.section, "slot")
    reported = scope.articles(
        select(Article.section, at(ReaderReport.created_at), literal("reported"), literal(""), func.count())
        .select_from(ReaderReport)
        .join(Comment, Comment.id == ReaderReport.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            ReaderReport.site_id == scope.site.id,
            ReaderReport.created_at >= start,
            ReaderReport.created_at < end,
        ),
        Comment.article_id,
    ).group_by(Article.section, "slot")
    if want("received", "reported"):
        rows += [tuple(row) for row in session.execute(union_all(received, reported))]

    wait = (epoch(Decision.created_at) - epoch(Comment.created_at)) // 60
    decisions = scope.comments(
        select(
            Article.section,
            at(Decision.created_at),
            Decision.by,
            Decision.status,
            Decision.from_status,
            func.count(),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(Decision.created_at >= start, Decision.created_at < end)
    ).group_by(Article.section, "slot", Decision.by, Decision.status, Decision.from_status)
    queue: dict[tuple[str | None, int], int] = {}
    for section, slot, by, status, from_status, count in (
        session.execute(decisions) if want("decision", "queue") else ()
    ):
        rows.append((section, slot, "decision", f"{by}:{status}", count))
        change = (status == Status.QUEUED.value) - (from_status == Status.QUEUED.value)
        if change:
            queue[(section, slot)] = queue.get((section, slot), 0) + change * count
    rows += [(section, slot, "queue", "", change) for (section, slot), change in queue.items() if change]
    minutes = wait.label("minutes")
    waits = scope.comments(
        select(Article.section, at(Decision.created_at), minutes, func.count())
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Decision.created_at >= start,
            Decision.created_at < end,
            Decision.by == "moderator",
            Decision.from_status == Status.QUEUED.value,
        )
    ).group_by(Article.section, "slot", "minutes")
    if want("wait"):
        rows += [(section, slot, "wait", str(m), n) for section, slot, m, n in session.execute(waits)]
    if want("moderator", "handling"):
        rows += _moderators(session, scope, start, end, seconds)
    if want("agreement"):
        rows += agreement(session, scope, start, end, seconds)
    if want("identity"):
        rows += _identity(session, scope, start, end, seconds)
    return _merge(rows)


def agreement(
    session: Session, scope: Scope, start: datetime, end: datetime, seconds: int, exact: bool = False
) -> list[Cell]:
    """``agreement`` keyed ``label:bucket:status:group`` per moderator approval or rejection of a
    scored comment: the bucket of the comment's highest score per label written before the
    decision (``exact``: the score itself, for thresholds off the buckets), and the group whose
    thresholds apply (``#`` and the article id when the article has its own thresholds, else
    ``s`` and its section)."""
    own = or_(Article.approve_below.is_not(None), Article.reject_above.is_not(None))
    group = case(
        (own, literal("#") + cast(Article.id, String)),
        else_=literal("s") + func.coalesce(Article.section, ""),
    ).label("grp")
    per = scope.comments(
        select(
            Article.section,
            _at(seconds)(Decision.created_at),
            Score.label,
            Decision.status,
            group,
            func.max(Score.value).label("value"),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .join(Score, and_(Score.comment_id == Decision.comment_id, Score.created_at <= Decision.created_at))
        .where(
            Decision.by == "moderator",
            Decision.status.in_(VERDICTS),
            Decision.created_at >= start,
            Decision.created_at < end,
        )
        .group_by(Decision.id, Decision.created_at, Score.label, Decision.status, Article.section, group)
    ).subquery()
    bucket = (per.c.value if exact else _bucket(per.c.value)).label("bucket")
    grouped = select(
        per.c.section, per.c.slot, per.c.label, bucket, per.c.status, per.c.grp, func.count()
    ).group_by(per.c.section, per.c.slot, per.c.label, "bucket", per.c.status, per.c.grp)
    return [
        (section, slot, "agreement", f"{label}:{b}:{status}:{grp}", n)
        for section, slot, label, b, status, grp, n in session.execute(grouped)
    ]


def _identity(session: Session, scope: Scope, start: datetime, end: datetime, seconds: int) -> list[Cell]:
    """``identity`` keyed ``mentions:by:status``: the model's decisions, the moderators'
    approvals and rejections of comments the model held (queued or rejected), and comments
    received (``mentions:received:``), by whether the comment mentions an identity group."""
    person = and_(Decision.by == "moderator", Decision.from_status.in_(HELD), Decision.status.in_(VERDICTS))
    grouped = scope.comments(
        select(
            Article.section,
            _at(seconds)(Decision.created_at),
            Comment.mentions_identity,
            Decision.by,
            Decision.status,
            func.count(),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Decision.created_at >= start,
            Decision.created_at < end,
            or_(Decision.by == "auto", person),
        )
    ).group_by(Article.section, "slot", Comment.mentions_identity, Decision.by, Decision.status)
    received = scope.comments(
        select(
            Article.section,
            _at(seconds)(Comment.created_at),
            Comment.mentions_identity,
            literal("received"),
            literal(""),
            func.count(),
        )
        .select_from(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.created_at >= start, Comment.created_at < end)
    ).group_by(Article.section, "slot", Comment.mentions_identity)
    return [
        (section, slot, "identity", f"{int(bool(mentions))}:{by}:{status}", n)
        for section, slot, mentions, by, status, n in session.execute(union_all(grouped, received))
    ]


LEAN_REJECT = 0.5  # the model leans to reject a comment it queued when its risk is at least this


def _moderators(session: Session, scope: Scope, start: datetime, end: datetime, seconds: int) -> list[Cell]:
    """``moderator`` keyed ``user:status:overturned`` per decision, and ``handling`` keyed
    ``user:seconds`` for each decision's gap since the same moderator's previous decision on the
    site when under ``SESSION_GAP`` (so medians are exact to the second).

    The model's lean on a comment is its own decision when it made one (the decision came from
    approved or rejected), otherwise reject when the comment's risk is at least ``LEAN_REJECT``; a
    moderator decision against that lean is an overturn."""
    lean = case(
        (Decision.from_status.in_([Status.APPROVED.value, Status.REJECTED.value]), Decision.from_status),
        (Comment.risk >= LEAN_REJECT, Status.REJECTED.value),
        else_=Status.APPROVED.value,
    )
    previous = func.lag(Decision.created_at).over(
        partition_by=Decision.user_id, order_by=(Decision.created_at, Decision.id)
    )
    decided = (
        select(
            _at(seconds)(Decision.created_at),
            Decision.created_at,
            Decision.user_id,
            Decision.status,
            Comment.article_id,
            Article.section,
            case((Decision.status != lean, 1), else_=0).label("overturned"),
            (epoch(Decision.created_at) - epoch(previous)).label("gap"),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Comment.site_id == scope.site.id,
            Decision.by == "moderator",
            Decision.created_at >= start - timedelta(seconds=SESSION_GAP),
            Decision.created_at < end,
        )
    ).subquery()
    mine = (
        scope.articles(select(decided), decided.c.article_id).where(decided.c.created_at >= start).subquery()
    )
    rows: list[Cell] = [
        (section, slot, "moderator", f"{user}:{status}:{overturned}", n)
        for section, slot, user, status, overturned, n in session.execute(
            select(
                mine.c.section, mine.c.slot, mine.c.user_id, mine.c.status, mine.c.overturned, func.count()
            ).group_by(mine.c.section, mine.c.slot, mine.c.user_id, mine.c.status, mine.c.overturned)
        )
    ]
    rows += [
        (section, slot, "handling", f"{user}:{gap}", n)
        for section, slot, user, gap, n in session.execute(
            select(mine.c.section, mine.c.slot, mine.c.user_id, mine.c.gap, func.count())
            .where(mine.c.gap < SESSION_GAP)
            .group_by(mine.c.section, mine.c.slot, mine.c.user_id, mine.c.gap)
        )
    ]
    return rows
