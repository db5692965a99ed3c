"""Personal API tokens for the moderation API: moderators and admins make their own (shown once),
see when each was last used, and revoke them; admins see and can revoke everyone's."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from dashboard.auth import roles_required
from service import accounts, tokens
from service.models import Role, UserToken
from service.web import get_session

bp = Blueprint("tokens", __name__, url_prefix="/tokens")


def render_tokens(error: str | None = None, new_token: str | None = None, status: int = 200, name: str = ""):
    me = current_user.user
    listed = tokens.tokens_of(get_session(), None if me.role == Role.ADMIN.value else me)
    page = render_template(
        "dashboard/tokens.html", tokens=listed, error=error, new_token=new_token, name=name, me=me
    )
    return page, status


@bp.get("/")
@roles_required(Role.MODERATOR, Role.ADMIN)
def index():
    return render_tokens()


@bp.post("/")
@roles_required(Role.MODERATOR, Role.ADMIN)
def create():
    db, name = get_session(), request.form.get("name", "")
    try:
        _row, token = tokens.create_token(db, current_user.user, name)
    except accounts.AccountError as exc:
        db.rollback()
        return render_tokens(str(exc).capitalize() + ".", status=400, name=name)
    db.commit()
    # The token is in this answer only (never in a flash cookie or a log): it cannot be shown again.
    return render_tokens(new_token=token)


@bp.post("/<int:token_id>/revoke")
@roles_required(Role.MODERATOR, Role.ADMIN)
def revoke(token_id: int):
    db = get_session()
    row = db.get(UserToken, token_id)
    me = current_user.user
    if row is None or (row.user_id != me.id and me.role != Role.ADMIN.value):
        abort(404)  # another moderator's token is none of this user's business
    try:
        tokens.revoke_token(db, row, me)
    except accounts.AccountError as exc:
        return render_tokens(str(exc).capitalize() + ".", status=400)
    db.commit()
    flash(f"Revoked token {row.prefix}… ({row.name}).")
    return redirect(url_for(".index"))
