"""A pending comment's scores: the thresholds that apply, and the policy's decision on them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from service import events, policy
from service.config import Settings
from service.models import (
    Article,
    Comment,
    Decision,
    Premoderation,
    Score,
    Site,
    Status,
    utcnow,
)
from service.models import Reason as ReasonRow
from service.moderation.intake import earlier_comment_count
from service.reasons import LINK_REASONS

log = logging.getLogger(__name__)


def thresholds_for(site: Site, settings: Settings, article: Article | None = None) -> policy.Thresholds:
    """The article's thresholds, each falling back to the site's, then the installation default."""

    def pick(name: str) -> float:
        for source in (article, site):
            value = getattr(source, name, None)
            if value is not None:
                return float(value)
        return float(getattr(settings, name))

    return policy.Thresholds(
        approve_below=pick("approve_below"),
        reject_above=pick("reject_above"),
        spam_queue_above=pick("spam_queue_above"),
        spam_reject_above=pick("spam_reject_above"),
        spam_alone_queue_above=settings.spam_alone_queue_above,
        attributes=_attribute_rules(settings, site, article),
        rude=site.rude or settings.rude,
        unvalidated_language=site.unvalidated_language or settings.unvalidated_language,
    )


def _attribute_rules(
    settings: Settings, site: Site, article: Article | None
) -> Mapping[str, policy.AttributeRule]:
    """Installation, then site, then article rules. A layer that no longer fits the one beneath it
    (an article's ``queue_at`` above a ``reject_at`` its site lowered later) is skipped and logged:
    a comment must never be left undecidable by settings."""
    rules = settings.attribute_rules
    for layer, owner in (
        (site.attribute_thresholds, "site"),
        (getattr(article, "attribute_thresholds", None), "article"),
    ):
        try:
            rules = policy.merge_rules(rules, layer)
        except ValueError as exc:
            log.warning("ignoring the %s's attribute thresholds: %s", owner, exc)
    return rules


# The labels whose highest score is a comment's risk, the default order of the moderation queue.
RISK_LABELS = ("toxicity", "spam")


def premoderation_hold(session: Session, comment: Comment, reasons: Sequence[policy.Reason]) -> str | None:
    """Why the article's or the author's pre-moderation makes a person see this comment, if it does."""
    if comment.author.premoderate:
        return "the author is pre-moderated"
    mode = Premoderation(comment.article.premoderation)
    if mode == Premoderation.ALL:
        return "the article is pre-moderated"
    if mode == Premoderation.LINKS and any(r.code in LINK_REASONS for r in reasons):
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
    # The languages the scorer is validated for (None: it makes no claim, like the spam model).
    languages: frozenset[str] | None = None


def score_rows(comment_id: int, scorer: str, version: str, scores: Mapping[str, float]) -> list[Score]:
    """One ``Score`` row per label of what ``scorer`` (at ``version``) said about a comment."""
    return [
        Score(comment_id=comment_id, scorer=scorer, model_version=version, label=label, value=float(value))
        for label, value in scores.items()
    ]


def unvalidated_language(spoken: str, results: Sequence[ScorerResult]) -> str | None:
    """``spoken``, the comment's language (its site's when too short to tell), if a scorer that
    claims languages is not validated for it."""
    claims = [r.languages for r in results if r.languages is not None]
    return spoken if any(spoken not in validated for validated in claims) else None


def record_scores(
    session: Session,
    comment_id: int,
    results: Sequence[ScorerResult],
    settings: Settings,
    language: str | None = None,
) -> Comment | None:
    """Store a pending comment's scores and reasons and apply the policy; commits.

    ``language`` is the one the worker detected (``service.language``), stored with the decision;
    without it (too short to tell) the comment is read in its site's language.

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
        review_reason=premoderation_hold(session, comment, reasons),
        trusted=comment.author.trusted,
        unvalidated_language=unvalidated_language(
            language or comment.language or comment.site.language, results
        ),
    )
    risk = max((scores[label] for label in RISK_LABELS if label in scores), default=None)
    now = utcnow()
    updated = session.execute(
        update(Comment)
        .where(Comment.id == comment_id, Comment.status == Status.PENDING.value)
        .values(
            status=outcome.status.value,
            decided_at=None if outcome.status == Status.QUEUED else now,
            risk=risk,
            **({"language": language} if language is not None else {}),
        )
    )
    claimed = cast(CursorResult[Any], updated).rowcount  # an UPDATE's result is a CursorResult
    if not claimed:  # another worker got there first
        session.rollback()
        return None
    for result in results:
        session.add_all(score_rows(comment_id, result.scorer, result.version, result.scores))
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
