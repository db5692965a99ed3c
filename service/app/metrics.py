"""``GET /metrics``: the API's metrics in Prometheus's text format, summed over the server's
processes, with the installation's backlog read at scrape time.

Open unless ``STET_METRICS_TOKEN`` is set, then only to ``Authorization: Bearer <token>``: it shows
counts per site id and route, never a comment, but a site's volume is still the newsroom's business.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from service import metrics, moderation
from service.db import Database
from service.models import Site, Status, utcnow
from worker.enqueue import QUEUE

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
WAITING = (Status.PENDING.value, Status.QUEUED.value)


class Backlog:
    """What waits, read when Prometheus scrapes: one grouped query and one LLEN (each with a short
    timeout), so a scrape stays cheap and an unreachable part shows as down instead of failing it."""

    def __init__(self, database: Database, broker_url: str):
        self.database = database
        self.broker = redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(
            "stet_dependency_up", "Whether the database and the broker answered.", labels=["dependency"]
        )
        try:
            with self.database.session() as session:
                sites = list(session.scalars(select(Site.id)))
                waiting = {(w.site_id, w.status): w for w in moderation.waiting(session)}
            up.add_metric(["database"], 1)
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            up.add_metric(["database"], 0)
            sites, waiting = [], {}
        count = GaugeMetricFamily(
            "stet_comments_waiting",
            "Comments waiting: status pending (for the worker) or queued (for a moderator).",
            labels=["site", "status"],
        )
        age = GaugeMetricFamily(
            "stet_comments_waiting_oldest_age_seconds",
            "Age of the oldest waiting comment (0 when none waits).",
            labels=["site", "status"],
        )
        now = utcnow()
        for site_id in sites:
            for status in WAITING:
                found = waiting.get((site_id, status))
                count.add_metric([str(site_id), status], found.count if found else 0)
                age.add_metric([str(site_id), status], (now - found.oldest).total_seconds() if found else 0)
        yield from (count, age)
        try:
            depth = int(self.broker.llen(QUEUE))  # type: ignore[arg-type]
            up.add_metric(["broker"], 1)
            yield GaugeMetricFamily(
                "stet_scoring_queue_messages", "Scoring messages waiting in the broker for a worker.", depth
            )
        except redis.RedisError as exc:
            log.warning("metrics: the broker did not answer (%s)", type(exc).__name__)
            up.add_metric(["broker"], 0)
        yield up


def init_app(app: Flask, broker_url: str) -> None:
    app.extensions["stet.backlog"] = Backlog(app.extensions["stet.db"], broker_url)
    app.register_blueprint(bp)


@bp.get("/metrics")
def scrape() -> Response:
    token = current_app.config["STET_SETTINGS"].metrics_token
    if not metrics.authorized(token, request.headers.get("Authorization")):
        return Response(
            "send 'Authorization: Bearer <STET_METRICS_TOKEN>'\n",
            401,
            {"WWW-Authenticate": "Bearer"},
            content_type="text/plain",
        )
    body, content_type = metrics.exposition(current_app.extensions["stet.backlog"])
    return Response(body, content_type=content_type)
