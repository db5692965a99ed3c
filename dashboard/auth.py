"""Logging in and out of the dashboard, and who is logged in."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import RateLimitExceeded
from flask_login import current_user, login_required, login_user, logout_user

from service.accounts import AccountError, authenticate, end_sessions, set_password, sites_of
from service.models import Role, User
from service.web import get_session, limiter, retry_after

bp = Blueprint("auth", __name__)


class DashboardUser:
    """A logged-in user (moderator or admin) as Flask-Login sees it; ``user`` is the stored row."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, user: User):
        self.user = user

    @property
    def is_active(self) -> bool:
        return self.user.active

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return self.user.role

    def get_id(self) -> str:
        """``<user id>:<session epoch>``: a session from before the user's epoch moved on (logout,
        a new password or role, deactivation) no longer loads."""
        return f"{self.user.id}:{self.user.session_epoch}"


def load_user(session_id: str) -> DashboardUser | None:
    """The user of a session cookie, while the session is current and the account active."""
    user_id, _, epoch = session_id.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None  # a cookie from before sessions carried their epoch
    user = get_session().get(User, int(user_id))
    if user is None or not user.active or user.session_epoch != int(epoch):
        return None
    return DashboardUser(user)


def roles_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let only logged-in users with one of ``roles`` reach a view; others get 403 (anonymous: login)."""
    allowed = {role.value for role in roles}

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def unauthorized() -> Response:
    """Send an anonymous visitor to the login page, and back to the page they asked for (GETs only)."""
    next_path = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("dashboard.auth.login", next=next_path))


def my_sites() -> frozenset[int] | None:
    """The sites the logged-in user moderates (``None``: all), read once per request."""
    if "my_sites" not in g:
        g.my_sites = sites_of(get_session(), current_user.user)
    return g.my_sites


def in_my_sites(site_id: int) -> bool:
    sites = my_sites()
    return sites is None or site_id in sites


def local_path(target: str) -> str | None:
    """``target`` if it is a path on this site; never another host (``//evil``, ``/\\evil``, a scheme)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and target.isprintable():
        return target
    return None


REPORTS = "dashboard.reports.index"


def landing() -> str:
    """Where a user starts: editors on the reports (when installed), everyone else on the queue."""
    if current_user.role == Role.EDITOR.value:
        return url_for(REPORTS) if REPORTS in current_app.view_functions else url_for(".welcome")
    return url_for("dashboard.queue.index")


@bp.get("/welcome")
@login_required
def welcome():
    """The start page of a role with nothing else to see yet (editors before reports are installed)."""
    return render_template("dashboard/welcome.html")


# Failed attempts per client address, and per account name from any address (a password guessed
# from many addresses); a success does not count.
LOGIN_LIMIT = "10 per minute;50 per hour"
ACCOUNT_LIMIT = "5 per minute;20 per hour"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _account_key() -> str:
    """The login form's account name, hashed (names never reach Redis in clear)."""
    name = request.form.get("name", "").strip().casefold()
    return "login-account:" + hashlib.sha256(name.encode()).hexdigest()[:32]


@bp.route("/login", methods=("GET", "POST"))
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed)
@limiter.limit(ACCOUNT_LIMIT, methods=["POST"], deduct_when=_failed, key_func=_account_key, scope="account")
def login():
    next_path = local_path(request.values.get("next", ""))
    if current_user.is_authenticated:
        return redirect(next_path or landing())
    name = request.form.get("name", "")
    if request.method == "POST":
        user = authenticate(get_session(), name, request.form.get("password", ""))
        if user is None:
            error = "Wrong name or password."
            return render_template("dashboard/login.html", name=name, next=next_path, error=error), 401
        session.clear()  # nothing from before the login (a planted session) carries over
        login_user(DashboardUser(user))
        return redirect(next_path or landing())
    return render_template("dashboard/login.html", name=name, next=next_path, error=None)


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(_exc: RateLimitExceeded):
    wait = retry_after()
    error = f"Too many failed logins for this account or from your address. Try again in {wait} s."
    page = render_template("dashboard/login.html", name="", next=None, error=error)
    return page, 429, {"Retry-After": str(wait)}


@bp.post("/logout")
@login_required
def logout():
    """Log out: every session of this user ends, a copied cookie included."""
    end_sessions(current_user.user)
    get_session().commit()
    logout_user()
    session.clear()
    flash("You have logged out.")
    return redirect(url_for("dashboard.auth.login"))


@bp.route("/password", methods=("GET", "POST"))
@limiter.limit(LOGIN_LIMIT, methods=["POST"], deduct_when=_failed)
@limiter.limit(ACCOUNT_LIMIT, methods=["POST"], deduct_when=_failed, key_func=_account_key, scope="account")
@login_required
def password():
    """Change one's own password (the current one first); every session ends, this one included."""
    error, status = None, 200
    if request.method == "POST":
        me, status = current_user.user, 400
        new = request.form.get("new", "")
        if authenticate(get_session(), me.name, request.form.get("current", "")) is None:
            # 401 counts against the login limits: a borrowed session cannot guess the password
            error, status = "Your current password is not that.", 401
        elif new != request.form.get("repeat", ""):
            error = "The new password and its repetition differ."
        else:
            try:
                set_password(get_session(), me, new, actor=me)
            except AccountError as exc:
                error = str(exc)[:1].upper() + str(exc)[1:] + "."
            else:
                get_session().commit()
                logout_user()
                session.clear()
                flash("Password changed. Log in with the new one.")
                return redirect(url_for("dashboard.auth.login"))
    return render_template("dashboard/password.html", error=error), status
