"""An author's history in a drawer (past comments, approval rate, standing) and author actions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, abort, make_response, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from dashboard.auth import in_my_sites, roles_required
from service import moderation
from service.models import AuditEntry, Author, Comment, Role, Status
from service.web import get_session

bp = Blueprint("authors", __name__, url_prefix="/authors")
HISTORY = 20


def get_author(author_id: int) -> Author:
    author = get_session().get(Author, author_id)
    if author is None or not in_my_sites(author.site_id):
        abort(404)
    return author


def render_drawer(author: Author, error: str | None = None, status: int = 200, notice: str | None = None):
    db = get_session()
    per_status = select(Comment.status, func.count()).where(Comment.author_id == author.id)
    by_status: dict[str, int] = {status: n for status, n in db.execute(per_status.group_by(Comment.status))}
    decided = by_status.get(Status.APPROVED.value, 0) + by_status.get(Status.REJECTED.value, 0)
    recent = db.scalars(
        select(Comment).where(Comment.author_id == author.id).order_by(Comment.id.desc()).limit(HISTORY)
    ).all()
    changes = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.target_type == "author", AuditEntry.target_id == str(author.id))
        .order_by(AuditEntry.id.desc())
        .limit(10)
    ).all()
    page = render_template(
        "dashboard/_author.html",
        author=author,
        counts=by_status,
        total=sum(by_status.values()),
        approval=by_status.get(Status.APPROVED.value, 0) / decided if decided else None,
        recent=recent,
        changes=changes,
        error=error,
        notice=notice,
        waiting=by_status.get(Status.QUEUED.value, 0) + by_status.get(Status.PENDING.value, 0),
        tomorrow=(date.today() + timedelta(days=1)).isoformat(),
        full_page=not request.htmx,
    )
    response = make_response(page, status)
    response.vary.add("HX-Request")
    return response


@bp.get("/<int:author_id>")
@roles_required(Role.MODERATOR, Role.ADMIN)
def show(author_id: int):
    return render_drawer(get_author(author_id))


@bp.post("/<int:author_id>/standing")
@roles_required(Role.MODERATOR, Role.ADMIN)
def standing(author_id: int):
    """Ban, suspend until a date, pre-moderate or trust the author (or lift it); audited.

    A ban also rejects the author's comments waiting for a decision when the form asks to
    (its box is ticked by default), each as a moderator's rejection.
    """
    author = get_author(author_id)
    try:
        action = moderation.Standing(request.form.get("action", ""))
    except ValueError:
        return render_drawer(author, "Unknown action.", 400)
    until = None
    if action == moderation.Standing.SUSPEND:
        try:
            day = date.fromisoformat(request.form.get("until", ""))
        except ValueError:
            return render_drawer(author, "Suspend until: pick a date.", 400)
        until = datetime.combine(day, time(), UTC)
    try:
        moderation.set_standing(get_session(), author, current_user.user, action, until)
    except moderation.ModerationError as exc:
        return render_drawer(author, str(exc).capitalize() + ".", 400)
    if action != moderation.Standing.BAN or not request.form.get("reject_waiting"):
        return render_drawer(author)
    swept = moderation.reject_waiting(get_session(), author, current_user.user)
    notice = f"Banned; {swept.rejected} waiting comment{'s' if swept.rejected != 1 else ''} rejected"
    if swept.decided_first:
        notice += f" ({swept.decided_first} decided by someone else first, left as they were)"
    response = render_drawer(author, notice=notice + ".")
    response.headers["HX-Trigger"] = "stet:decided"  # the queue counts refresh
    return response
