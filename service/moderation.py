"""Domain functions that change comments; the API, the worker and the dashboard all go through them.

Each function works inside the caller's session and leaves committing to it,
except where a conditional UPDATE is what makes a decision safe against a
second worker or a second moderator acting on the same comment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service import audit, events, policy
from service.config import Settings
from service.models import (
    Article,
    Author,
    Comment,
    Decision,
    Label,
    Premoderation,
    Score,
    Site,
    SiteWord,
    Status,
    User,
    WordKind,
    utcnow,
)
from service.models import Reason as ReasonRow
from service.schemas import CommentIn


class ModerationError(Exception):
    """An action that cannot be applied as asked (for example, already decided)."""


def _get_or_create(
    session: Session, model: type[Article] | type[Author], site: Site, ext_id: str, **fields: str | None
):
    obj = session.scalar(select(model).where(model.site_id == site.id, model.external_id == ext_id))
    if obj is None:
        obj = model(site_id=site.id, external_id=ext_id, **fields)
        try:
            with session.begin_nested():
                session.add(obj)
        except IntegrityError:  # created by a concurrent request
            obj = session.scalars(
                select(model).where(model.site_id == site.id, model.external_id == ext_id)
            ).one()
    else:
        for key, value in fields.items():
            if value is not None and getattr(obj, key) != value:
                setattr(obj, key, value)
    return obj


@dataclass
class Submission:
    comment: Comment
    created: bool


def submit_comment(session: Session, site: Site, data: CommentIn) -> Submission:
    """Save a new pending comment (creating its article and author on first sight).

    With an ``external_id`` the call is idempotent per site: a retry returns the
    comment already saved. The caller commits, then enqueues ``comment.id``.
    """
    if data.external_id is not None:
        existing = session.scalar(
            select(Comment).where(Comment.site_id == site.id, Comment.external_id == data.external_id)
        )
        if existing is not None:
            return Submission(existing, created=False)
    article = _get_or_create(
        session, Article, site, data.article.id, title=data.article.title, url=data.article.url
    )
    author = _get_or_create(session, Author, site, data.author.id, name=data.author.name)
    comment = Comment(
        site_id=site.id,
        article_id=article.id,
        author_id=author.id,
        parent_id=data.parent_id,
        external_id=data.external_id,
        body=data.body,
        ip=data.ip,
        user_agent=data.user_agent,
        status=Status.PENDING.value,
        enqueued_at=utcnow(),
    )
    session.add(comment)
    session.flush()
    return Submission(comment, created=True)


def thresholds_for(site: Site, settings: Settings, article: Article | None = None) -> policy.Thresholds:
    """The article's thresholds, each falling back to the site's, then the installation default."""

    def pick(name: str) -> float:
        for source in (article, site):
            value = getattr(source, name, None)
            if value is not None:
                return float(value)
        return float(getattr(settings, name))

    return policy.Thresholds(
        *(pick(name) for name in ("approve_below", "reject_above", "spam_queue_above", "spam_reject_above"))
    )


# The labels whose highest score is a comment's risk, the default order of the moderation queue.
RISK_LABELS = ("toxicity", "spam")


def premoderation_hold(session: Session, comment: Comment, reasons: Sequence[policy.Reason]) -> str | None:
    """Why the article's or the author's pre-moderation makes a person see this comment, if it does."""
    if comment.author.premoderate:
        return "the author is pre-moderated"
    mode = Premoderation(comment.article.premoderation)
    if mode == Premoderation.ALL:
        return "the article is pre-moderated"
    if mode == Premoderation.LINKS and any(r.code in policy.LINK_REASONS for r in reasons):
        return "the article pre-moderates comments with links"
    if mode == Premoderation.NEW_AUTHORS and earlier_comment_count(session, comment) == 0:
        return "the article pre-moderates new authors' first comments"
    return None


@dataclass(frozen=True)
class ScorerResult:
    """What one scorer said about one comment."""

    scorer: str
    version: str
    scores: Mapping[str, float]
    reasons: Sequence[policy.Reason] = ()


def record_scores(
    session: Session, comment_id: int, results: Sequence[ScorerResult], settings: Settings
) -> Comment | None:
    """Store a pending comment's scores and reasons and apply the policy; commits.

    Idempotent: a comment that is no longer pending (decided by an earlier run
    of the same task) is left as it is and ``None`` is returned.
    """
    comment = session.get(Comment, comment_id)
    if comment is None or comment.status != Status.PENDING.value:
        return None
    scores: dict[str, float] = {}
    for result in results:
        for label, value in result.scores.items():
            scores.setdefault(label, float(value))
    reasons = [reason for result in results for reason in result.reasons]
    outcome = policy.decide(
        scores,
        thresholds_for(comment.site, settings, comment.article),
        reasons,
        hold=premoderation_hold(session, comment, reasons),
        trusted=comment.author.trusted,
    )
    risk = max((scores[label] for label in RISK_LABELS if label in scores), default=None)
    now = utcnow()
    claimed = session.execute(
        update(Comment)
        .where(Comment.id == comment_id, Comment.status == Status.PENDING.value)
        .values(
            status=outcome.status.value,
            decided_at=None if outcome.status == Status.QUEUED else now,
            risk=risk,
        )
    ).rowcount
    if not claimed:  # another worker got there first
        session.rollback()
        return None
    for result in results:
        session.add_all(
            Score(
                comment_id=comment_id,
                scorer=result.scorer,
                model_version=result.version,
                label=label,
                value=float(value),
            )
            for label, value in result.scores.items()
        )
        session.add_all(
            ReasonRow(
                comment_id=comment_id,
                scorer=result.scorer,
                model_version=result.version,
                code=r.code,
                weight=r.weight,
                detail=r.detail[:500],
                spans=[list(span) for span in r.spans],
            )
            for r in result.reasons
        )
    session.add(
        Decision(
            comment_id=comment_id,
            from_status=Status.PENDING.value,
            status=outcome.status.value,
            by="auto",
            reason=outcome.reason[:500],
            details={"category": outcome.category, "scorers": {r.scorer: r.version for r in results}},
        )
    )
    session.refresh(comment)
    if outcome.status != Status.QUEUED:
        events.comment_event(session, comment, events.COMMENT_DECIDED)
    session.commit()
    return comment


def moderate(session: Session, comment: Comment, user: User, status: Status, reason: str = "") -> Decision:
    """A moderator approves or rejects a queued comment; commits.

    Refused with ModerationError when the comment is not waiting for a person
    any more (someone else decided it first), so no decision is applied twice.
    """
    if status not in (Status.APPROVED, Status.REJECTED):
        raise ModerationError(f"a moderator can approve or reject, not {status.value}")
    now = utcnow()
    claimed = session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.status == Status.QUEUED.value)
        .values(status=status.value, decided_at=now)
    ).rowcount
    if not claimed:
        session.rollback()
        session.refresh(comment)
        raise ModerationError(f"comment {comment.id} is already {comment.status}")
    decision = Decision(
        comment_id=comment.id,
        from_status=Status.QUEUED.value,
        status=status.value,
        by="moderator",
        user_id=user.id,
        reason=reason or f"{status.value} by {user.name}",
        created_at=now,
    )
    session.add(decision)
    session.refresh(comment)
    audit.record(
        session,
        actor=user,
        action=f"comment.{status.value}",
        target_type="comment",
        target_id=comment.id,
        before={"status": Status.QUEUED.value},
        after={"status": status.value, "reason": decision.reason},
        site_id=comment.site_id,
    )
    # The person's judgement, kept as data the models are evaluated (and retrained) against.
    session.add(
        Label(
            site_id=comment.site_id,
            comment_id=comment.id,
            attribute="acceptable",
            value=1.0 if status == Status.APPROVED else 0.0,
            source="moderator",
            user_id=user.id,
            created_at=now,
        )
    )
    events.comment_event(session, comment, events.COMMENT_DECIDED)
    session.commit()
    return decision


def word_lists(session: Session, site_id: int) -> dict[WordKind, list[str]]:
    """A site's banned, suspect and allowed-domain entries."""
    lists: dict[WordKind, list[str]] = {kind: [] for kind in WordKind}
    for kind, pattern in session.execute(
        select(SiteWord.kind, SiteWord.pattern).where(SiteWord.site_id == site_id).order_by(SiteWord.id)
    ):
        lists[WordKind(kind)].append(pattern)
    return lists


def earlier_comment_count(session: Session, comment: Comment) -> int:
    """How many comments the author posted on this site before ``comment``."""
    return (
        session.scalar(
            select(func.count()).where(Comment.author_id == comment.author_id, Comment.id < comment.id)
        )
        or 0
    )


def stale_pending(session: Session, older_than: timedelta, limit: int = 1000) -> list[int]:
    """Ids of comments still pending whose last enqueue is older than ``older_than``."""
    cutoff: datetime = utcnow() - older_than
    return list(
        session.scalars(
            select(Comment.id)
            .where(Comment.status == Status.PENDING.value, Comment.enqueued_at < cutoff)
            .order_by(Comment.id)
            .limit(limit)
        )
    )


def mark_enqueued(session: Session, comment_ids: list[int]) -> None:
    if comment_ids:
        session.execute(update(Comment).where(Comment.id.in_(comment_ids)).values(enqueued_at=utcnow()))
