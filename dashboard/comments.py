"""A moderator's actions on comments: approve, reject with a reason, undo, bulk, and claiming.

Every action goes through ``service.moderation``; the form carries the comment's state as the
moderator saw it, so an action on a comment someone else decided meanwhile is refused (409)
with who decided it. htmx gets the card's replacement, a plain form post a redirect.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from dashboard import cards
from dashboard.auth import in_my_sites, local_path, roles_required
from service import moderation
from service.models import Comment, Decision, Role, Status
from service.moderation.cards import Card
from service.web import get_session

bp = Blueprint("comments", __name__, url_prefix="/comments")
MODERATORS = (Role.MODERATOR, Role.ADMIN)
BULK_LIMIT = 200
# Loaded with every decided comment: its webhook event names its article and author.
WITH_NAMES = (joinedload(Comment.article), joinedload(Comment.author))


# A form without the card's state asks to decide a comment waiting in the review queue, never
# to overturn a decision: that needs the state the moderator saw.
WAITING = moderation.Seen(Status.QUEUED.value, None)


def parse_seen(value: str) -> moderation.Seen:
    """``status|decided_at`` as the card showed it."""
    return moderation.Seen.parse(value) or WAITING


def reject_code(status: Status) -> moderation.RejectCode | None:
    """The reason code of a rejection (None for an approval); ModerationError when it is missing."""
    if status != Status.REJECTED:
        return None
    try:
        code = moderation.RejectCode(request.form.get("code", ""))
    except ValueError:
        raise moderation.ModerationError("choose a reason for the rejection") from None
    if code == moderation.RejectCode.OTHER and not request.form.get("note", "").strip():
        raise moderation.ModerationError("say why in a few words when the reason is “other”")
    return code


def apply(
    comment: Comment, status: Status, seen: moderation.Seen, code: moderation.RejectCode | None
) -> Decision:
    note = request.form.get("note", "")
    return moderation.moderate(get_session(), comment, current_user.user, status, note, code=code, seen=seen)


def respond(
    comment: Comment,
    message: str,
    conflict: bool,
    decision: Decision | None = None,
    card: Card | None = None,
):
    """The decided card (or the card itself, after an undo) for htmx; a redirect for a plain post.

    The decided card is drawn from what the action already holds: no query after the commit.
    """
    if request.htmx:
        if card is not None:
            page = render_template("dashboard/_card.html", card=card)
        else:
            page = render_template(
                "dashboard/_decided.html",
                comment=comment,
                undoable=decision,
                message=message,
                conflict=conflict,
            )
        response = make_response(page, 409 if conflict else 200)
        response.headers["HX-Trigger"] = "stet:decided"  # the queue counts refresh
    else:
        flash(f"Comment {comment.id}: {message}")
        response = redirect(back())
    response.vary.add("HX-Request")
    return response


def back() -> str:
    """Where a plain form post returns: the page it came from, when that is a path on this site."""
    return local_path(request.form.get("back", "")) or url_for("dashboard.queue.index")


def get_comment(comment_id: int) -> Comment:
    """The comment, or a 404 when there is none or it is on a site this moderator does not moderate."""
    comment = get_session().get(Comment, comment_id, options=WITH_NAMES)
    if comment is None or not in_my_sites(comment.site_id):
        abort(404)
    return comment


def outcome(decision: Decision) -> str:
    return f"{decision.status.capitalize()} by {current_user.user.name}"


@bp.post("/<int:comment_id>/approve")
@roles_required(*MODERATORS)
def approve(comment_id: int):
    return decide(comment_id, Status.APPROVED)


@bp.post("/<int:comment_id>/reject")
@roles_required(*MODERATORS)
def reject(comment_id: int):
    return decide(comment_id, Status.REJECTED)


def decide(comment_id: int, status: Status):
    comment = get_comment(comment_id)
    try:
        code = reject_code(status)
    except moderation.ModerationError as exc:  # the card stays, with what is missing
        if not request.htmx:
            flash(f"Comment {comment.id}: {str(exc).capitalize()}.")
            return redirect(back())
        card = cards.one(get_session(), comment.id, current_user.user)
        page = render_template("dashboard/_card.html", card=card, error=str(exc).capitalize() + ".")
        return make_response(page, 400)
    try:
        decision = apply(comment, status, parse_seen(request.form.get("seen", "")), code)
    except moderation.ModerationError as exc:
        message = str(exc)
        return respond(comment, message[0].upper() + message[1:] + " — your decision was not applied.", True)
    return respond(comment, outcome(decision), False, decision)


@bp.post("/<int:comment_id>/undo")
@roles_required(*MODERATORS)
def undo(comment_id: int):
    comment = get_comment(comment_id)
    try:
        decision_id = int(request.form.get("decision", ""))
    except ValueError:
        abort(400)
    try:
        moderation.undo(get_session(), comment, current_user.user, decision_id)
    except moderation.ModerationError as exc:
        message = str(exc)
        return respond(comment, message[0].upper() + message[1:] + " — nothing was undone.", True)
    card = cards.one(get_session(), comment.id, current_user.user)
    return respond(comment, f"Undone: back to {comment.status}", False, card=card)


@bp.post("/bulk")
@roles_required(*MODERATORS)
def bulk():
    """Approve or reject every selected comment; each is decided (or refused) on its own."""
    action = request.form.get("action")
    if action not in ("approve", "reject"):
        abort(400)
    status = Status.APPROVED if action == "approve" else Status.REJECTED
    picked = request.form.getlist("pick")[:BULK_LIMIT]
    db, done, refused = get_session(), [], []
    try:
        code = reject_code(status)
        problem = None if picked else "Select comments first (x or the checkboxes)."
    except moderation.ModerationError as exc:
        problem = str(exc).capitalize() + "."
    for value in picked if problem is None else []:
        comment_id, _, seen = value.partition(":")
        comment = db.get(Comment, int(comment_id), options=WITH_NAMES) if comment_id.isdigit() else None
        if comment is None or not in_my_sites(comment.site_id):
            continue
        try:
            decision = apply(comment, status, parse_seen(seen), code)
            done.append((comment, decision, outcome(decision), False))
        except moderation.ModerationError as exc:
            refused.append((comment, None, f"Not applied: {exc}", True))
    summary = problem or f"{len(done)} {status.value}" + (f", {len(refused)} not applied" if refused else "")
    if not request.htmx:
        flash(summary + "".join(f" · {c.id}: {m}" for c, _, m, _ in refused))
        return redirect(back())
    page = render_template("dashboard/_bulk.html", decided=done + refused, summary=summary)
    response = make_response(page)
    response.headers["HX-Trigger"] = "stet:decided"
    response.vary.add("HX-Request")
    return response


@bp.post("/<int:comment_id>/claim")
@roles_required(*MODERATORS)
def claim(comment_id: int):
    """Hold the comment while this moderator has its detail open (its reason picker or its author),
    or with ``release=1`` let go of it when they move on; the answer says who holds it."""
    db, comment = get_session(), get_comment(comment_id)
    if request.form.get("release"):
        moderation.release(db, comment, current_user.user)
        holder = moderation.claimant(db, comment)
    else:
        holder = moderation.claim(db, comment, current_user.user)
    return render_template("dashboard/_claim.html", comment=comment, holder=holder, me=current_user.user)
