"""The audit log: who changed what, when, and from what to what.

Every moderator, admin and privacy action calls ``record`` inside its own
transaction, so an action and its audit entry are committed together or not at all.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from service.models import AuditEntry, User


def record(
    session: Session,
    *,
    actor: User | str,
    action: str,
    target_type: str,
    target_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    site_id: int | None = None,
) -> AuditEntry:
    """Add one audit entry to the session (the caller commits). ``actor`` is a user or a label
    such as ``"api:<site>"`` or ``"system"``."""
    entry = AuditEntry(
        site_id=site_id,
        user_id=actor.id if isinstance(actor, User) else None,
        actor=actor.name if isinstance(actor, User) else actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
