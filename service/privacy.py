"""An author's data: exported as JSON, or erased (their comments anonymised or removed, per the
site's ``erasure`` setting). Both are recorded in the audit log, without the erased identity."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from service import audit
from service.models import (
    Author,
    Comment,
    Decision,
    ErasureMode,
    Feedback,
    Label,
    Reason,
    Report,
    Score,
    Site,
)
from service.reporting import rollup


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export(session: Session, site: Site, author: Author) -> dict[str, Any]:
    """Everything Stet keeps about ``author``: the profile, comments with their decisions, reports made."""
    comments = session.scalars(select(Comment).where(Comment.author_id == author.id).order_by(Comment.id))
    reports = session.scalars(
        select(Report)
        .where(Report.site_id == site.id, Report.reporter_id == author.external_id)
        .order_by(Report.id)
    )
    audit.record(
        session,
        actor=f"api:{site.name}",
        action="author.exported",
        target_type="author",
        target_id=author.id,
        site_id=site.id,
    )
    return {
        "author": {
            "id": author.external_id,
            "name": author.name,
            "banned": author.banned,
            "suspended_until": _when(author.suspended_until),
            "premoderate": author.premoderate,
            "trusted": author.trusted,
            "first_seen": _when(author.created_at),
        },
        "comments": [
            {
                "id": c.id,
                "external_id": c.external_id,
                "article_id": c.article.external_id,
                "body": c.body,
                "ip": c.ip,
                "user_agent": c.user_agent,
                "status": c.status,
                "created_at": _when(c.created_at),
                "decisions": [
                    {"status": d.status, "by": d.by, "reason": d.reason, "at": _when(d.created_at)}
                    for d in c.decisions
                ],
            }
            for c in comments
        ],
        "reports_made": [
            {
                "comment_id": r.comment_id,
                "reason": r.reason,
                "note": r.note,
                "created_at": _when(r.created_at),
            }
            for r in reports
        ],
    }


def erase(session: Session, site: Site, author: Author) -> dict[str, Any]:
    """Erase ``author`` per ``site.erasure``; the caller commits.

    ``anonymise`` keeps the comments' text under a random author id and drops name, IP and user
    agent; ``remove`` deletes the comments (with their scores, reasons, decisions, reports and
    labels). Either way the reports and feedback the reader sent lose their id.
    """
    mode = ErasureMode(site.erasure)
    old_id, new_id = author.external_id, f"erased-{secrets.token_hex(8)}"
    comment_ids = list(session.scalars(select(Comment.id).where(Comment.author_id == author.id)))
    session.execute(
        update(Report)
        .where(Report.site_id == site.id, Report.reporter_id == old_id)
        .values(reporter_id=new_id)
    )
    session.execute(
        update(Feedback)
        .where(Feedback.site_id == site.id, Feedback.reader_id == old_id)
        .values(reader_id=None)
    )
    if mode == ErasureMode.REMOVE:
        if comment_ids:
            session.execute(update(Comment).where(Comment.parent_id.in_(comment_ids)).values(parent_id=None))
            rollup.forget(session, site.id, comment_ids)
            for model in (Score, Reason, Decision, Report, Label):
                session.execute(delete(model).where(model.comment_id.in_(comment_ids)))
            session.execute(delete(Comment).where(Comment.id.in_(comment_ids)))
        session.delete(author)
    else:
        session.execute(
            update(Comment).where(Comment.author_id == author.id).values(ip=None, user_agent=None)
        )
        author.external_id, author.name = new_id, None
    result = {"author_id": old_id, "mode": mode.value, "comments": len(comment_ids)}
    audit.record(
        session,
        actor=f"api:{site.name}",
        action="author.erased",
        target_type="author",
        target_id=new_id,
        after={"mode": mode.value, "comments": len(comment_ids)},
        site_id=site.id,
    )
    return result
