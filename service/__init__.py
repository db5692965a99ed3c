"""Stet's moderation service: the domain core, the JSON API and the app factory."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.routing import IntegerConverter

from service.config import Settings
from service.db import Database
from service.schemas import MAX_ID

csrf = CSRFProtect()
# Counters live in the broker's Redis; if it is away, limits fall back to process memory.
limiter = Limiter(get_remote_address, swallow_errors=True, in_memory_fallback_enabled=True)

# Ten thousand characters of \\uXXXX-escaped JSON plus the other fields fit well inside.
MAX_REQUEST_BYTES = 256 * 1024


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number past the largest row id is a 404, never a database error."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app: API under /api/v1, dashboard under /dashboard, probes at the root."""
    from dashboard import init_app as init_dashboard
    from service import api, health
    from service.api.errors import register_error_handlers
    from worker.celery_app import DEFAULT_REDIS_URL, make_celery

    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["int"] = RowIdConverter
    app.config.update(
        STET_SETTINGS=settings,
        SECRET_KEY=settings.secret(),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session's lifetime
        RATELIMIT_STORAGE_URI=settings.redis_url or DEFAULT_REDIS_URL,
        RATELIMIT_KEY_PREFIX="stet-limits",
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    Database(settings.sqlalchemy_url).init_app(app)
    app.extensions["stet.celery"] = make_celery(settings)
    register_error_handlers(app)
    csrf.init_app(app)
    limiter.init_app(app)
    api.init_app(app, csrf)
    app.register_blueprint(health.bp)
    init_dashboard(app)
    return app
