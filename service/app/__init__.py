"""The composition root: the one place that knows every part and wires them into the WSGI app.

The domain core (``service`` without ``app``, ``api`` and ``web``) knows no HTTP, queue or screen;
the faces (``service.api``, ``dashboard``) and the worker plug in here.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from service import events
from service.config import Settings
from service.db import Database
from service.web import (
    MAX_REQUEST_BYTES,
    JSONProvider,
    RowIdConverter,
    csrf,
    init_database,
    limiter,
    security_headers,
)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app: API under /api/v1, dashboard under /dashboard, probes at the root
    (``STET_SERVE`` keeps one face off a process: the dashboard off the port news sites reach)."""
    import dashboard as dashboard_package
    from dashboard import init_app as init_dashboard
    from service import api
    from service.api.errors import register_error_handlers
    from service.app import access, health
    from service.app import metrics as metrics_endpoint
    from worker.celery_app import DEFAULT_REDIS_URL, make_celery
    from worker.enqueue import enqueue_akismet_feedback, enqueue_deliveries

    settings = settings or Settings.from_env()
    app = Flask("service", static_folder=None)
    access.init_app(app)  # first: every other hook runs with the request's id
    app.url_map.converters["int"] = RowIdConverter
    app.config.update(
        STET_SETTINGS=settings,
        # Front-end files from the npm registry (dashboard/package.json): htmx, Swagger UI.
        STET_NPM_DIR=str(Path(dashboard_package.__file__).parent / "node_modules"),
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
    app.json = JSONProvider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.after_request(security_headers)
    database = Database(settings.sqlalchemy_url)
    init_database(app, database)
    celery = app.extensions["stet.celery"] = make_celery(settings)
    metrics_endpoint.init_app(app, celery.conf.broker_url)
    events.on_new_deliveries(database.sessions, lambda ids: enqueue_deliveries(celery, ids))
    events.on_moderator_decisions(database.sessions, lambda ids: enqueue_akismet_feedback(celery, ids))
    register_error_handlers(app)
    csrf.init_app(app)
    limiter.init_app(app)
    if settings.serve in ("all", "api"):
        api.init_app(app, csrf)
    app.register_blueprint(health.bp)
    if settings.serve in ("all", "dashboard"):
        init_dashboard(app)
    return app
