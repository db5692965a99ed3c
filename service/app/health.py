"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import redis
from flask import Blueprint, current_app
from sqlalchemy import text

from service.web import get_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process answers: nothing else is checked."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready when the database and the broker both answer."""
    checks: dict[str, str] = {}
    try:
        get_session().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    broker_url = current_app.extensions["stet.celery"].conf.broker_url
    try:
        redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1).ping()
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
