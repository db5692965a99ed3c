"""Late measures' moves: each touched comment's standing after a window minus before it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select, true, union_all
from sqlalchemy.orm import Session, aliased

from service.models import (
    Article,
    Comment,
    Decision,
    Reason,
    Score,
)
from service.reporting.rollup.slots import LATE, Cell, _at, _bucket


def late(
    session: Session,
    site_id: int,
    since: datetime | None,
    until: datetime | None,
    seconds: int,
    measures: Iterable[str] = LATE,
    comments: Sequence[int] | None = None,
) -> list[Cell]:
    """The moves of late measures for scores and reasons written in [since, until) (either end
    open when None), or, given ``comments``, for those comments' whole history before ``until``:
    each touched comment's standing as of ``until`` minus its standing as of ``since``."""
    rows: list[Cell] = []
    for measure in ("score", "reason", "simulation"):
        if measure not in measures:
            continue
        standing = _simulation if measure == "simulation" else _standing
        touched: Any = comments
        if touched is None and since is not None:
            written = [
                select(model.comment_id).where(
                    model.created_at >= since, *([model.created_at < until] if until is not None else [])
                )
                for model in _CHANGED_BY[measure]
            ]
            touched = union_all(*written) if len(written) > 1 else written[0]
        rows += standing(session, site_id, measure, touched, until, seconds, 1)
        if since is not None:
            rows += standing(session, site_id, measure, touched, since, seconds, -1)
    return rows


_CHANGED_BY: dict[str, tuple[Any, ...]] = {
    "score": (Score,),
    "reason": (Reason,),
    "simulation": (Decision, Score),
}


def _simulation(
    session: Session,
    site_id: int,
    measure: str,
    touched: Any,
    before: datetime | None,
    seconds: int,
    sign: int,
) -> list[Cell]:
    """``simulation`` keyed ``auto:category:bucket:now`` per model decision made before
    ``before`` (everything when None), in the slot of that decision: what the model decided and
    why (its ``category``), the bucket of the comment's highest toxicity score written before
    ``before``, and the comment's status as of then (its latest decision's)."""
    auto, latest, toxicity = aliased(Decision), aliased(Decision), aliased(Score)
    written = [] if before is None else [latest.created_at < before]
    now = (
        select(latest.status)
        .where(latest.comment_id == auto.comment_id, *written)
        .order_by(latest.created_at.desc(), latest.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    scored = [] if before is None else [toxicity.created_at < before]
    # Grouped per decision (so the database computes the highest score once, not per use).
    category = auto.details["category"].as_string()
    query = (
        select(
            Article.section,
            _at(seconds)(auto.created_at),
            auto.status.label("auto"),
            category.label("category"),
            func.max(toxicity.value).label("value"),
            now.label("now"),
        )
        .select_from(auto)
        .join(Comment, Comment.id == auto.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .join(
            toxicity,
            and_(toxicity.comment_id == auto.comment_id, toxicity.label == "toxicity", *scored),
        )
        .where(Comment.site_id == site_id, auto.by == "auto")
        .group_by(auto.id, auto.comment_id, auto.created_at, auto.status, category, Article.section)
    )
    if before is not None:
        query = query.where(auto.created_at < before)
    if touched is not None:
        query = query.where(auto.comment_id.in_(touched))
    per = query.subquery()
    grouped = select(
        per.c.section,
        per.c.slot,
        per.c.auto,
        per.c.category,
        _bucket(per.c.value).label("bucket"),
        per.c.now,
        func.count(),
    ).group_by(per.c.section, per.c.slot, per.c.auto, per.c.category, "bucket", per.c.now)
    return [
        (section, slot, measure, f"{auto_status}:{category}:{bucket}:{status}", sign * n)
        for section, slot, auto_status, category, bucket, status, n in session.execute(grouped)
    ]


def _standing(
    session: Session,
    site_id: int,
    measure: str,
    touched: Any,
    before: datetime | None,
    seconds: int,
    sign: int,
) -> list[Cell]:
    """How the ``touched`` comments (ids, a subquery of ids, or None for all) counted with what
    was written before ``before`` (everything when None): per label, the bucket of a comment's
    highest score; per reason code, the comment once."""
    model = Score if measure == "score" else Reason
    key = (Score.label if measure == "score" else Reason.code).label("key")
    written = model.created_at < before if before is not None else true()
    query = (
        select(
            Article.section,
            _at(seconds)(Comment.created_at),
            key,
            (func.max(case((written, Score.value))) if measure == "score" else literal(0)).label("value"),
        )
        .select_from(model)
        .join(Comment, Comment.id == model.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.site_id == site_id)
        .group_by(model.comment_id, key, Comment.created_at, Article.section)
        .having(func.max(case((written, 1))) == 1)
    )
    if touched is not None:
        query = query.where(model.comment_id.in_(touched))
    if before is not None:  # what was written later cannot count (lets the index bound the scan)
        query = query.where(model.created_at < before)
    per = query.subquery()
    bucket = _bucket(per.c.value) if measure == "score" else per.c.value
    grouped = select(per.c.section, per.c.slot, per.c.key, bucket.label("bucket"), func.count()).group_by(
        per.c.section, per.c.slot, per.c.key, "bucket"
    )
    return [
        (section, slot, measure, f"{k}:{b}" if measure == "score" else k, sign * n)
        for section, slot, k, b, n in session.execute(grouped)
    ]
