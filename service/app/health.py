"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any, cast

import redis
from flask import Blueprint, current_app
from sqlalchemy import CursorResult, update

from service.models import HealthCheck, utcnow
from service.web import get_session, limiter

bp = Blueprint("health", __name__)
# /readyz writes a row: enough for any orchestrator's probe, not a way to load the database.
READYZ_LIMIT = "120 per minute"


@bp.get("/healthz")
def healthz():
    """The process answers: nothing else is checked."""
    return {"status": "ok"}


@bp.get("/readyz")
@limiter.limit(READYZ_LIMIT)
def readyz():
    """Ready when the database accepts a write (a full or read-only disk answers reads but not
    that) and the broker answers."""
    checks: dict[str, str] = {}
    session = get_session()
    try:
        now = utcnow()
        written = session.execute(update(HealthCheck).where(HealthCheck.id == 1).values(checked_at=now))
        if not cast(CursorResult[Any], written).rowcount:
            session.add(HealthCheck(id=1, checked_at=now))
        session.commit()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    broker_url = current_app.extensions["stet.celery"].conf.broker_url
    try:
        redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1).ping()
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
