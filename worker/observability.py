"""The worker's logs and metrics, wired to Celery's signals.

Logging is Stet's (``service.logs``: text or JSON, with request ids) instead of Celery's own; the
periodic sweeps' routine lines ("received", "succeeded", "Sending due task") drop to debug, so an
idle worker is quiet. With ``STET_WORKER_METRICS_PORT`` set, the worker's main process serves the
metrics its pool processes count (``PROMETHEUS_MULTIPROC_DIR``, set up by ``stet worker``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from celery import signals

from service import logs, metrics
from service.config import Settings
from worker.enqueue import REPORTS_FILL_TASK, SWEEP_TASK, WEBHOOK_SWEEP_TASK

log = logging.getLogger(__name__)

PERIODIC_TASKS = frozenset({SWEEP_TASK, WEBHOOK_SWEEP_TASK, REPORTS_FILL_TASK})


class QuietSweeps(logging.Filter):
    """Celery's info lines about the periodic tasks become debug lines (what the sweeps do themselves,
    re-enqueueing comments or deliveries, they log at info)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.name.startswith("celery"):
            return True
        args: Iterable[Any] = ()
        if isinstance(record.args, Mapping):
            args = (record.args.get("name"),)
        elif isinstance(record.args, tuple):
            args = record.args
        if not any(isinstance(arg, str) and arg in PERIODIC_TASKS for arg in args):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def connect(settings: Callable[[], Settings]) -> None:
    """Connect the worker's (and beat's) logging and metrics to Celery's signals."""

    @signals.setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:
        current = settings()
        logs.configure(current.log_format, current.log_level, filters=(QuietSweeps(),))

    @signals.worker_ready.connect(weak=False)
    def _metrics(**_: Any) -> None:
        current = settings()
        if current.worker_metrics_port:
            serve_metrics(current.host, current.worker_metrics_port, current.metrics_token)

    @signals.worker_process_shutdown.connect(weak=False)
    def _process_gone(pid: int | None = None, **_: Any) -> None:
        if pid:
            metrics.mark_process_dead(pid)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # a scrape every few seconds is not news


def serve_metrics(host: str, port: int, token: str = "") -> threading.Thread | None:
    """Serve /metrics (every pool process's metrics) on ``host:port`` in a daemon thread; with
    ``token``, only to ``Authorization: Bearer <token>``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: scrape /metrics\n"]
        if not metrics.authorized(token, environ.get("HTTP_AUTHORIZATION")):
            headers = [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")]
            start_response("401 Unauthorized", headers)
            return [b"send Authorization: Bearer <STET_METRICS_TOKEN>\n"]
        body, content_type = metrics.exposition()
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    try:
        server = make_server(host, port, app, handler_class=_QuietHandler)
    except OSError as exc:
        log.error("worker metrics: cannot listen on %s:%s (%s); serving none", host, port, exc)
        return None
    thread = threading.Thread(target=server.serve_forever, name="stet-metrics", daemon=True)
    thread.start()
    log.info("worker metrics on http://%s:%s/metrics", host, port)
    return thread
