"""The moderation queue: comments waiting for a person, and approving or rejecting them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from service import moderation
from service.db import get_session
from service.models import Comment, Score, Status

bp = Blueprint("queue", __name__)

# The first page only, for now; a later issue pages through the rest.
PAGE_SIZE = 50


@bp.app_template_test("web_url")
def is_web_url(value: str | None) -> bool:
    """Only http(s) URLs become links: a site could send ``javascript:`` as an article URL."""
    return bool(value) and value.lower().startswith(("http://", "https://"))


def queued_comments(session: Session, limit: int = PAGE_SIZE) -> list[tuple[Comment, float | None]]:
    """Queued comments with their toxicity, most toxic first, then oldest first.

    A comment scored by more than one scorer shows the highest toxicity any of them gave.
    """
    toxicity = (
        select(Score.comment_id, func.max(Score.value).label("value"))
        .where(Score.label == "toxicity")
        .group_by(Score.comment_id)
        .subquery()
    )
    rows = session.execute(
        select(Comment, toxicity.c.value)
        .outerjoin(toxicity, toxicity.c.comment_id == Comment.id)
        .where(Comment.status == Status.QUEUED.value)
        .options(joinedload(Comment.article), joinedload(Comment.author))
        .order_by(toxicity.c.value.desc().nulls_last(), Comment.created_at, Comment.id)
        .limit(limit)
    )
    return [(comment, value) for comment, value in rows]


@bp.get("/")
@login_required
def index():
    session = get_session()
    waiting = session.scalar(select(func.count()).where(Comment.status == Status.QUEUED.value))
    return render_template("dashboard/queue.html", comments=queued_comments(session), waiting=waiting)


@bp.post("/comments/<int:comment_id>/approve")
@login_required
def approve(comment_id: int):
    return decide(comment_id, Status.APPROVED)


@bp.post("/comments/<int:comment_id>/reject")
@login_required
def reject(comment_id: int):
    return decide(comment_id, Status.REJECTED)


def decide(comment_id: int, status: Status):
    """Apply the decision; htmx gets the card's replacement, a plain form post goes back to the queue.

    When someone decided the comment first, nothing is applied and the answer (409) says who did;
    base.html tells htmx to swap 409s in like successes.
    """
    session = get_session()
    comment = session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    try:
        moderation.moderate(session, comment, current_user.user, status)
        conflict = False
    except moderation.ModerationError:
        conflict = True
    message = outcome(comment, conflict)
    if request.htmx:
        page = render_template("dashboard/_decided.html", comment=comment, message=message, conflict=conflict)
        response = make_response(page, 409 if conflict else 200)
    else:
        flash(f"Comment {comment.id}: {message}")
        response = redirect(url_for(".index"))
    response.vary.add("HX-Request")
    return response


def outcome(comment: Comment, conflict: bool) -> str:
    """What the moderator is told about a comment they just acted on."""
    if comment.status not in (Status.APPROVED.value, Status.REJECTED.value):
        return f"Not applied: this comment is {comment.status}."
    last = comment.decisions[-1]
    who = last.user.name if last.user is not None else "the automatic policy"
    if conflict:
        return f"Already {comment.status} by {who} — your decision was not applied."
    return f"{comment.status.capitalize()} by {who}"
