"""Every request gets an id, an access log line and a latency sample by route.

The id is the caller's ``X-Request-Id`` when it is short and plain (``service.logs.safe_request_id``),
otherwise a new one; it is returned on every response, carried by every log line written while the
request runs, handed to the worker with the comment's scoring task and stored on the webhook
deliveries the request causes. The access line names the method, the route (the URL rule, not the
path: paths hold article and author ids), the status, the time taken and the site when known; never
a body, a key or a query string.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from sqlalchemy import inspect

from service import logs
from service.metrics import metrics

log = logging.getLogger("stet.access")
HEADER = "X-Request-Id"
# Probes and scrapes come every few seconds: their access lines are debug lines unless they fail.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def init_app(app: Flask) -> None:
    """Call before anything else registers request hooks, so the id is set before they run."""
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_forget)


def _begin() -> None:
    g.request_id = logs.safe_request_id(request.headers.get(HEADER)) or logs.new_request_id()
    g.request_started = time.perf_counter()
    g.request_id_token = logs.request_id.set(g.request_id)


def _site_id() -> int | None:
    """The site whose key the request carried, read without touching the database."""
    site = g.get("site")
    identity = inspect(site).identity if site is not None else None
    return int(identity[0]) if identity else None


def _finish(response: Response) -> Response:
    request_id = g.get("request_id") or logs.new_request_id()
    response.headers[HEADER] = request_id
    seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
    status = response.status_code
    metrics().http_request_seconds.labels(method=request.method, route=route, status=str(status)).observe(
        seconds
    )
    site_id = _site_id()
    level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
    log.log(
        level,
        "%s %s %s %.1f ms%s",
        request.method,
        route,
        status,
        seconds * 1000,
        f" site {site_id}" if site_id is not None else "",
        extra={
            "method": request.method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "site_id": site_id,
            "request_id": request_id,
        },
    )
    return response


def _forget(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            logs.request_id.reset(token)
        except ValueError:  # set in another context (a copied one): just clear it
            logs.request_id.set(None)
