"""Admins manage dashboard users: create them, change their role, deactivate or reactivate them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from dashboard.auth import roles_required
from service import accounts
from service.models import Role, Site, User, UserSite
from service.web import get_session

bp = Blueprint("users", __name__, url_prefix="/admin/users")


def get_user(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def render_users(error: str | None = None, status: int = 200, name: str = ""):
    db = get_session()
    users = db.scalars(select(User).order_by(User.name)).all()
    scopes: dict[int, set[int]] = {}
    for scope in db.scalars(select(UserSite)):
        scopes.setdefault(scope.user_id, set()).add(scope.site_id)
    sites = db.scalars(select(Site).order_by(Site.name)).all()
    page = render_template(
        "dashboard/admin/users.html",
        users=users,
        roles=list(Role),
        sites=sites,
        scopes=scopes,
        error=error,
        name=name,
    )
    return page, status


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    return render_users()


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    db, name = get_session(), request.form.get("name", "")
    try:
        role = Role(request.form.get("role", ""))
        user = accounts.create_user(db, name, role, request.form.get("password", ""), actor=current_user.user)
    except ValueError as exc:  # AccountError, or an unknown role
        db.rollback()
        message = str(exc) if isinstance(exc, accounts.AccountError) else "choose a role"
        return render_users(message.capitalize() + ".", 400, name)
    db.commit()
    flash(f"Created {user.name} ({user.role}).")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>")
@roles_required(Role.ADMIN)
def change(user_id: int):
    db, user = get_session(), get_user(user_id)
    try:
        role = Role(request.form["role"]) if request.form.get("role") else None
        active = {"1": True, "0": False}.get(request.form.get("active", ""))
        accounts.change_user(db, user, current_user.user, role=role, active=active)
    except ValueError as exc:
        db.rollback()
        message = str(exc) if isinstance(exc, accounts.AccountError) else "unknown role"
        return render_users(message.capitalize() + ".", 400)
    db.commit()
    flash(f"{user.name}: {user.role}, {'active' if user.active else 'deactivated'}.")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/sites")
@roles_required(Role.ADMIN)
def set_sites(user_id: int):
    """Limit a moderator to the ticked sites (none ticked: every site)."""
    db, user = get_session(), get_user(user_id)
    try:
        site_ids = [int(value) for value in request.form.getlist("site")]
        accounts.set_user_sites(db, user, site_ids, actor=current_user.user)
    except ValueError as exc:  # AccountError, or a value that is no site id
        db.rollback()
        message = str(exc) if isinstance(exc, accounts.AccountError) else "choose sites from the list"
        return render_users(message[:1].upper() + message[1:] + ".", 400)
    db.commit()
    flash(f"{user.name} moderates {len(site_ids) or 'all'} site{'' if len(site_ids) == 1 else 's'}.")
    return redirect(url_for(".index"))


@bp.post("/<int:user_id>/password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):
    """Give a user a new password (they forgot theirs, or it leaked); their sessions end."""
    db, user = get_session(), get_user(user_id)
    try:
        accounts.set_password(db, user, request.form.get("new_password", ""), actor=current_user.user)
    except accounts.AccountError as exc:
        db.rollback()
        return render_users(str(exc)[:1].upper() + str(exc)[1:] + ".", 400)
    db.commit()
    flash(f"{user.name} has a new password; their sessions have ended. Tell them in person or by phone.")
    return redirect(url_for(".index"))
