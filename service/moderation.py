"""Domain functions that change comments; the API, the worker and the dashboard all go through them.

Each function works inside the caller's session and leaves committing to it,
except where a conditional UPDATE is what makes a decision safe against a
second worker or a second moderator acting on the same comment.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ScalarSelect, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from service import audit, events, language, policy
from service.config import Settings
from service.models import (
    Article,
    Author,
    Comment,
    Decision,
    Label,
    Premoderation,
    Report,
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

log = logging.getLogger(__name__)


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
        language=language.detect(data.body, expected=site.language),
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
        *(pick(name) for name in ("approve_below", "reject_above", "spam_queue_above", "spam_reject_above")),
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
    # The languages the scorer is validated for (None: it makes no claim, like the spam model).
    languages: frozenset[str] | None = None


def unvalidated_language(comment: Comment, results: Sequence[ScorerResult]) -> str | None:
    """The comment's language (its site's when too short to tell) if a scorer that claims languages
    is not validated for it."""
    spoken = comment.language or comment.site.language
    claims = [r.languages for r in results if r.languages is not None]
    return spoken if any(spoken not in validated for validated in claims) else None


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
        unvalidated_language=unvalidated_language(comment, results),
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


class RejectCode(enum.StrEnum):
    """Why a moderator rejected a comment (shown in the reason picker, kept in the decision)."""

    OFFENSIVE = "offensive"
    ABUSIVE = "abusive"
    SPAM = "spam"
    BANNED_WORD = "banned_word"
    AD = "ad"
    ILLEGAL = "illegal"
    HARASSMENT = "harassment"
    HATE_SPEECH = "hate_speech"
    OFF_TOPIC = "off_topic"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


@dataclass(frozen=True)
class Seen:
    """The state of a comment as the moderator saw it: a decision applies only if it is still so."""

    status: str
    decided_at: datetime | None

    @classmethod
    def of(cls, comment: Comment) -> Seen:
        return cls(comment.status, comment.decided_at)


def _still(comment_id: int, seen: Seen):  # type: ignore[no-untyped-def]
    """The WHERE clause of a conditional UPDATE: the comment is still as ``seen``.

    Every decision moves ``decided_at``, so it tells two decisions to the same status apart.
    """
    at = seen.decided_at
    same_time = Comment.decided_at.is_(None) if at is None else Comment.decided_at == at
    return (Comment.id == comment_id) & (Comment.status == seen.status) & same_time


def _change(session: Session, comment: Comment, seen: Seen, **values: object) -> bool:
    """Set ``values`` on the comment only while it is still as ``seen``; whether it was.

    The loaded ``comment`` takes the new values without being read again.
    """
    statement = update(Comment).where(_still(comment.id, seen)).values(**values)
    if not session.execute(statement.execution_options(synchronize_session=False)).rowcount:
        return False
    for name, value in values.items():
        set_committed_value(comment, name, value)
    session.expire(comment, ["decisions"])  # the caller adds one
    return True


def decided_by(comment_id: int | ColumnElement[int]) -> ScalarSelect[str]:
    """Who made the decision in effect on a comment, "auto" or "moderator" (as SQL).

    That is the latest decision's ``by``, except after an undo: the undo records the ``by``
    of the decision it brought back (``restored_by``), so an auto-rejected comment whose
    overturning was undone is auto-rejected again.
    """
    return (
        select(func.coalesce(Decision.details["restored_by"].as_string(), Decision.by))
        .where(Decision.comment_id == comment_id)
        .order_by(Decision.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def in_effect(decisions: Sequence[Decision]) -> Decision | None:
    """The decision whose outcome a comment has now: the latest one no undo took back.

    An undo always follows the decision it undoes, and is never undone itself.
    """
    kept: list[Decision] = []
    for decision in decisions:
        if (decision.details or {}).get("undo_of"):
            kept.pop()
        else:
            kept.append(decision)
    return kept[-1] if kept else None


def _refused(session: Session, comment: Comment) -> ModerationError:
    """The error for a comment someone decided first, naming who ("already approved by alice")."""
    session.rollback()
    session.refresh(comment)
    last = comment.decisions[-1] if comment.decisions else None
    if comment.status == Status.PENDING.value or last is None:
        return ModerationError(f"comment {comment.id} is {comment.status}: it has not been scored yet")
    who = last.user.name if last.user is not None else "the automatic policy"
    return ModerationError(f"already {comment.status} by {who}")


def moderate(
    session: Session,
    comment: Comment,
    user: User,
    status: Status,
    reason: str = "",
    *,
    code: RejectCode | None = None,
    seen: Seen | None = None,
    unscored: bool = False,
    judged: bool = True,
) -> Decision:
    """A moderator approves or rejects a comment; commits.

    Queued, reported and already decided comments (to overturn the policy or another
    moderator) can be decided; pending ones (not scored yet) only with ``unscored``, as
    when banning their author. The UPDATE applies only while the comment is as the
    moderator ``seen`` it (default: as loaded), so when someone else (or the worker)
    decided it first ModerationError says who, and no decision is applied twice. Open
    reader reports are resolved: upheld by a rejection, dismissed by an approval.
    A ``judged`` decision (someone read the comment) is also kept as a Label; a rejection
    that follows from a ban is not a judgement of the text and leaves no label.
    """
    if status not in (Status.APPROVED, Status.REJECTED):
        raise ModerationError(f"a moderator can approve or reject, not {status.value}")
    if status == Status.REJECTED and code is None:
        raise ModerationError("a rejection needs a reason code")
    if code == RejectCode.OTHER and not reason.strip():
        raise ModerationError("say why in a few words when the reason is “other”")
    seen = seen or Seen.of(comment)
    if seen.status == Status.PENDING.value and not unscored:
        raise ModerationError(f"comment {comment.id} is pending: it has not been scored yet")
    # Deciding a comment to the status it has only makes sense to answer reports or confirm the policy.
    if seen.status == status.value and comment.reported_at is None:
        if session.scalar(select(decided_by(comment.id))) not in (None, "auto"):
            raise _refused(session, comment)
    now = utcnow()
    reports: dict[str, object] = {
        "reported_at": comment.reported_at.isoformat() if comment.reported_at else None,
        "weight": comment.report_weight,
        "hidden": comment.hidden,
    }
    changed = _change(
        session,
        comment,
        seen,
        status=status.value,
        decided_at=now,
        reported_at=None,
        report_weight=0.0,
        hidden=False,
        claimed_by=None,
        claimed_until=None,
    )
    if not changed:
        raise _refused(session, comment)
    # Resolved after the comment's row is ours, so a report filed meanwhile is resolved too.
    resolve = (
        update(Report)
        .where(Report.comment_id == comment.id, Report.resolution.is_(None))
        .values(resolution="upheld" if status == Status.REJECTED else "dismissed", resolved_at=now)
        .returning(Report.id)
    )
    report_ids = list(session.scalars(resolve.execution_options(synchronize_session=False)))
    reports["ids"] = report_ids
    text = reason.strip()[:400]
    if code is not None:
        summary = f"rejected ({code.label}){': ' + text if text else ''}"
    else:
        summary = text or f"{status.value} by {user.name}"
    # The person's judgement, kept as data the models are evaluated (and retrained) against.
    label = None
    if judged:
        label = Label(
            site_id=comment.site_id,
            comment_id=comment.id,
            attribute="acceptable",
            value=1.0 if status == Status.APPROVED else 0.0,
            source="moderator",
            user_id=user.id,
            created_at=now,
        )
        session.add(label)
        session.flush()
    decision = Decision(
        comment_id=comment.id,
        from_status=seen.status,
        status=status.value,
        by="moderator",
        user_id=user.id,
        reason=summary[:500],
        details={
            "code": code.value if code else None,
            "note": text or None,
            "reports": reports,
            "previous_decided_at": seen.decided_at.isoformat() if seen.decided_at else None,
            "label_id": label.id if label else None,
        },
        created_at=now,
    )
    session.add(decision)
    audit.record(
        session,
        actor=user,
        action=f"comment.{status.value}",
        target_type="comment",
        target_id=comment.id,
        before={"status": seen.status, "open_reports": len(report_ids)},
        after={"status": status.value, "reason": decision.reason, "code": code.value if code else None},
        site_id=comment.site_id,
    )
    events.comment_event(session, comment, events.COMMENT_DECIDED)
    session.commit()
    return decision


def undo(session: Session, comment: Comment, user: User, decision_id: int) -> Decision:
    """Take back a moderator's decision: the comment returns to the decision's ``from_status``; commits.

    Only the comment's latest decision can be undone, and only while nobody decided
    the comment since (checked by the same conditional UPDATE as ``moderate``). The
    undo is itself a decision and an audit entry; it names who made the decision it
    brings back (``restored_by``), so the comment returns to the queue it came from
    (see ``decided_by``). The reports it resolved are open again and the moderator's
    label is withdrawn.
    """
    last = comment.decisions[-1] if comment.decisions else None
    if last is None or last.id != decision_id:
        raise _refused(session, comment) if last is not None else ModerationError("nothing to undo")
    if last.by != "moderator" or last.from_status is None or (last.details or {}).get("undo_of"):
        raise ModerationError("only a moderator's decision can be undone")
    restored = in_effect(comment.decisions[:-1])
    details = last.details or {}
    reports = details.get("reports") or {}
    back = Status(last.from_status)
    previous = details.get("previous_decided_at")
    reported_at = reports.get("reported_at")
    now = utcnow()
    changed = _change(
        session,
        comment,
        Seen(last.status, last.created_at),
        status=back.value,
        decided_at=datetime.fromisoformat(previous) if previous else None,
        reported_at=datetime.fromisoformat(reported_at) if reported_at else None,
        report_weight=reports.get("weight") or 0.0,
        hidden=bool(reports.get("hidden")),
    )
    if not changed:
        raise _refused(session, comment)
    if reports.get("ids"):
        session.execute(
            update(Report).where(Report.id.in_(reports["ids"])).values(resolution=None, resolved_at=None)
        )
    if details.get("label_id"):
        session.execute(delete(Label).where(Label.id == details["label_id"]))
    decision = Decision(
        comment_id=comment.id,
        from_status=last.status,
        status=back.value,
        by="moderator",
        user_id=user.id,
        reason=f"undo by {user.name} of “{last.reason}”"[:500],
        details={
            "undo_of": last.id,
            "restored": restored.id if restored else None,
            "restored_by": restored.by if restored else None,
        },
        created_at=now,
    )
    session.add(decision)
    audit.record(
        session,
        actor=user,
        action="comment.undo",
        target_type="comment",
        target_id=comment.id,
        before={"status": last.status, "decision": last.id},
        after={"status": back.value},
        site_id=comment.site_id,
    )
    events.comment_event(session, comment, events.COMMENT_DECIDED)
    session.commit()
    return decision


# How long opening a comment keeps it for one moderator.
CLAIM_SECONDS = 120


def claim(session: Session, comment: Comment, user: User, seconds: int = CLAIM_SECONDS) -> User | None:
    """Hold ``comment`` for ``user`` unless someone else holds it; commits. Returns who holds it.

    A claim only tells other moderators that someone is on it; their actions stay
    possible and race-safe through ``moderate``'s conditional UPDATE.
    """
    now = utcnow()
    free = (Comment.claimed_by.is_(None)) | (Comment.claimed_by == user.id) | (Comment.claimed_until < now)
    session.execute(
        update(Comment)
        .where(Comment.id == comment.id, free)
        .values(claimed_by=user.id, claimed_until=now + timedelta(seconds=seconds))
    )
    session.commit()
    session.refresh(comment)
    return claimant(session, comment)


def claimant(session: Session, comment: Comment) -> User | None:
    """The moderator holding ``comment`` now, if anyone does."""
    if comment.claimed_by is None or comment.claimed_until is None or comment.claimed_until < utcnow():
        return None
    return session.get(User, comment.claimed_by)


class Standing(enum.StrEnum):
    """What a moderator can order about an author, and its reversal."""

    BAN = "ban"
    UNBAN = "unban"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    PREMODERATE = "premoderate"
    UNPREMODERATE = "unpremoderate"
    TRUST = "trust"
    UNTRUST = "untrust"


def _standing(author: Author) -> dict[str, object]:
    until = author.suspended_until
    return {
        "banned": author.banned,
        "suspended_until": until.isoformat() if until else None,
        "premoderate": author.premoderate,
        "trusted": author.trusted,
    }


def set_standing(
    session: Session, author: Author, user: User, action: Standing, until: datetime | None = None
) -> Author:
    """Ban, suspend (until a future time), pre-moderate or trust an author, or lift it; commits.

    Trust and the restrictions exclude each other: banning, suspending or pre-moderating
    an author ends their trust, and trusting one ends the pre-moderation.
    """
    before = _standing(author)
    if action == Standing.SUSPEND:
        if until is None or until <= utcnow():
            raise ModerationError("a suspension needs an end in the future")
        author.suspended_until, author.trusted = until, False
    elif action == Standing.UNSUSPEND:
        author.suspended_until = None
    elif action in (Standing.BAN, Standing.PREMODERATE):
        setattr(author, "banned" if action == Standing.BAN else "premoderate", True)
        author.trusted = False
    elif action in (Standing.UNBAN, Standing.UNPREMODERATE):
        setattr(author, "banned" if action == Standing.UNBAN else "premoderate", False)
    elif action == Standing.TRUST:
        if author.banned:
            raise ModerationError("lift the ban before trusting this author")
        author.trusted, author.premoderate, author.suspended_until = True, False, None
    else:
        author.trusted = False
    audit.record(
        session,
        actor=user,
        action=f"author.{action.value}",
        target_type="author",
        target_id=author.id,
        before=before,
        after=_standing(author),
        site_id=author.site_id,
    )
    session.commit()
    return author


# The note on the rejections a ban makes of its author's waiting comments.
BANNED_NOTE = "the author was banned"


@dataclass(frozen=True)
class Swept:
    """What rejecting a banned author's waiting comments did."""

    rejected: int
    decided_first: int  # decided by someone else (a moderator, or the policy) before the ban reached them


def reject_waiting(session: Session, author: Author, user: User) -> Swept:
    """Reject every comment of ``author`` still waiting for a decision (queued, or pending its
    scores), each as ``moderate`` would: a decision, an audit entry and a webhook (but no label:
    nobody judged the text); commits.

    Called after the ban is committed, so no new comment of theirs can arrive meanwhile. Each
    rejection is race-safe: a comment someone decided first is left as they decided it, and one
    the worker scored into the queue meanwhile is rejected from there.
    """
    waiting = (Status.QUEUED.value, Status.PENDING.value)
    comments = session.scalars(
        select(Comment)
        .where(Comment.author_id == author.id, Comment.status.in_(waiting))
        .order_by(Comment.id)
        .options(joinedload(Comment.article), joinedload(Comment.author))
    ).all()
    rejected = decided_first = 0
    for comment in comments:
        for _attempt in range(3):
            try:
                moderate(
                    session,
                    comment,
                    user,
                    Status.REJECTED,
                    BANNED_NOTE,
                    code=RejectCode.OTHER,
                    unscored=True,
                    judged=False,
                )
            except ModerationError:  # changed meanwhile; ``comment`` is reloaded as it is now
                if comment.status in waiting:  # the worker scored it into the queue: reject it there
                    continue
                decided_first += 1
            else:
                rejected += 1
            break
    return Swept(rejected, decided_first)


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
