"""The moderators' dashboard: server-rendered HTML with htmx, under /dashboard.

htmx comes from the npm registry, pinned in ``dashboard/package.json`` and installed
by ``npm ci`` in ``dashboard/``; it is served from ``node_modules``, never copied into git.
Without it every button still works as a plain form post, one page load per decision.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, request, send_from_directory
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from htmx_flask import Htmx

from dashboard import audit, auth, authors, comments, queue, reports, sites, tokens, users, webhooks

HTMX_DIST = Path(__file__).parent / "node_modules" / "htmx.org" / "dist"

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
for module in (auth, queue, comments, authors, tokens, users, sites, audit):
    bp.register_blueprint(module.bp)
bp.register_blueprint(webhooks.bp)
bp.register_blueprint(reports.bp)


@bp.get("/static/vendor/htmx.min.js")
def htmx_js() -> Response:
    return send_from_directory(HTMX_DIST, "htmx.min.js")


def csrf_failed(exc: CSRFError) -> Response | tuple[str, int]:
    """An expired session or token: htmx reloads the page (to the login form) instead of doing nothing."""
    if request.path.startswith("/dashboard") and request.htmx:
        response = Response(exc.description, status=400)
        response.headers["HX-Refresh"] = "true"
        return response
    return exc.description, 400


def init_app(app: Flask) -> None:
    """Register the dashboard's blueprints and login handling on ``app``."""
    login_manager = LoginManager(app)
    login_manager.user_loader(auth.load_user)
    login_manager.unauthorized_handler(auth.unauthorized)
    Htmx(app)
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_blueprint(bp)
    if not (HTMX_DIST / "htmx.min.js").is_file():
        app.logger.warning(
            "htmx is missing from %s; run `npm ci` in dashboard/ (buttons fall back to full page loads)",
            HTMX_DIST,
        )
