"""A person's decisions: race-safe approve and reject, undo, and which decision is in effect."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, ScalarSelect, delete, func, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.attributes import set_committed_value

from service import audit, events
from service.metrics import metrics
from service.models import (
    Comment,
    Decision,
    Label,
    Report,
    Status,
    User,
    utcnow,
)
from service.moderation.errors import ModerationError


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

    @property
    def token(self) -> str:
        """The state as one string (``queued|`` or ``approved|<decided_at>``), for forms and clients
        to send back with an action."""
        return f"{self.status}|{self.decided_at.isoformat() if self.decided_at else ''}"

    @classmethod
    def parse(cls, token: str) -> Seen | None:
        """The state a ``token`` names; None when it is not one."""
        status, sep, at = token.partition("|")
        if not sep or status not in {s.value for s in Status}:
            return None
        try:
            return cls(status, datetime.fromisoformat(at) if at else None)
        except ValueError:
            return None


def _still(comment_id: int, seen: Seen) -> ColumnElement[bool]:
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
    updated = session.execute(statement.execution_options(synchronize_session=False))
    if not cast(CursorResult[Any], updated).rowcount:  # an UPDATE's result is a CursorResult
        return False
    for name, value in values.items():
        set_committed_value(comment, name, value)
    session.expire(comment, ["decisions"])  # the caller adds one
    return True


def decided_by(comment_id: int | ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[str]:
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
    metrics().comments_decided.labels(site=str(comment.site_id), by="moderator", status=status.value).inc()
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
