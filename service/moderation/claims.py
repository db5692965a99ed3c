"""A moderator holding a comment while reading it (a hint to others, never a lock)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from service.models import (
    Comment,
    User,
    utcnow,
)

# How long opening a comment (its reason picker or its author) keeps it for one moderator.
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


def release(session: Session, comment: Comment, user: User) -> None:
    """Let go of ``comment`` if ``user`` holds it (they moved on without deciding); commits."""
    session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.claimed_by == user.id)
        .values(claimed_by=None, claimed_until=None)
    )
    session.commit()
    session.refresh(comment)


def claimant(session: Session, comment: Comment) -> User | None:
    """The moderator holding ``comment`` now, if anyone does."""
    if comment.claimed_by is None or comment.claimed_until is None or comment.claimed_until < utcnow():
        return None
    return session.get(User, comment.claimed_by)
