"""Stet's moderation service: the domain core, the JSON API and the app factory."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from service.config import Settings
from service.db import Database

csrf = CSRFProtect()

# Ten thousand characters of \\uXXXX-escaped JSON plus the other fields fit well inside.
MAX_REQUEST_BYTES = 256 * 1024


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app: API under /api/v1, dashboard under /dashboard, probes at the root."""
    from dashboard import init_app as init_dashboard
    from service import api, health
    from service.api.errors import register_error_handlers
    from worker.celery_app import make_celery

    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        STET_SETTINGS=settings,
        SECRET_KEY=settings.secret(),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session's lifetime
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    Database(settings.sqlalchemy_url).init_app(app)
    app.extensions["stet.celery"] = make_celery(settings)
    register_error_handlers(app)
    csrf.init_app(app)
    api.init_app(app, csrf)
    app.register_blueprint(health.bp)
    init_dashboard(app)
    return app
