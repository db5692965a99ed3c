"""An author's standing: bans, suspensions, pre-moderation and trust, and a ban's sweep of the queue."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from service import audit
from service.models import (
    Author,
    Comment,
    Status,
    User,
    utcnow,
)
from service.moderation.decisions import RejectCode, moderate
from service.moderation.errors import ModerationError


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
