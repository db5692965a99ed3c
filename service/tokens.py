"""Personal API tokens: a user's own key to the moderation API, acting as that user.

A token is shown once, when it is made; only its SHA-256 is kept (like site keys, it is a
256-bit random string, so a fast hash is enough). It works while it is not revoked and its
user is active, and with the role the user has *now*: demoting a moderator to editor takes
the queue away from their tokens at once. Making and revoking tokens are audited.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service import audit
from service.accounts import AccountError, hash_key
from service.models import Role, User, UserToken, utcnow

TOKEN_PREFIX = "stetu_"  # tells a personal token from a site key (stet_) at a glance
# Roles that may hold tokens: the moderation API is for those who work the queue.
TOKEN_ROLES = (Role.MODERATOR.value, Role.ADMIN.value)
# last_used_at is written at most this often per token: one UPDATE per request would be waste.
USE_RESOLUTION = timedelta(minutes=1)


def create_token(session: Session, user: User, name: str, actor: User | None = None) -> tuple[UserToken, str]:
    """A new token for ``user`` named ``name`` (what it is for); returns the row and the token,
    which is never stored or shown again. The caller commits."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a token needs a name of 1 to 100 characters (what it is for)")
    if user.role not in TOKEN_ROLES:
        raise AccountError("only moderators and admins can have tokens for the moderation API")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = UserToken(user=user, name=name, prefix=token[: len(TOKEN_PREFIX) + 6], token_hash=hash_key(token))
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor or user,
        action="token.create",
        target_type="user_token",
        target_id=row.id,
        after={"user": user.name, "name": name, "prefix": row.prefix},
    )
    return row, token


def revoke_token(session: Session, row: UserToken, actor: User) -> None:
    """Stop a token from working at once (the row stays, marked revoked, for the record).

    Only its owner or an admin may revoke it; the caller commits."""
    if actor.id != row.user_id and actor.role != Role.ADMIN.value:
        raise AccountError("only the token's owner or an admin can revoke it")
    if row.revoked_at is not None:
        raise AccountError(f"token {row.prefix}… is already revoked")
    row.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="token.revoke",
        target_type="user_token",
        target_id=row.id,
        before={"user": row.user.name, "name": row.name, "prefix": row.prefix},
        after={"revoked": True},
    )


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a live token belongs to (None for an unknown, revoked or orphaned one);
    notes when the token was used, to the minute (the caller commits)."""
    row = session.scalar(
        select(UserToken)
        .join(User)
        .where(UserToken.token_hash == hash_key(token), UserToken.revoked_at.is_(None), User.active.is_(True))
    )
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION:
        session.execute(update(UserToken).where(UserToken.id == row.id).values(last_used_at=now))
    return row.user


def tokens_of(session: Session, user: User | None = None) -> list[UserToken]:
    """Tokens, newest first: one user's, or everyone's (``None``, for admins)."""
    query = select(UserToken).order_by(UserToken.id.desc())
    if user is not None:
        query = query.where(UserToken.user_id == user.id)
    return list(session.scalars(query))
