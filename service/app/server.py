"""``stet api``'s HTTP server: gunicorn with several worker processes, each with a pool of threads.

One Python process serves one request's Python code at a time (the GIL), so a single process let
one site's flood slow every other site (``benchmarks/flood.py``). Workers are forked from a master
that holds nothing but a semaphore shared by all of them, which bounds the scoring done on the
request path across the whole server (``service.api.scoring_gate``); each worker builds its own
app, database pool and scorer after the fork, so no connection or thread crosses it.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from service import metrics
from service.config import Settings


class Logs(glogging.Logger):
    """gunicorn's own lines (workers booting, timeouts) go through Stet's logging, text or JSON."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
            log.propagate = True


def child_exit(_server: Any, worker: Any) -> None:
    """A server process exited: its metrics files stop counting as live (``service.metrics``)."""
    metrics.mark_process_dead(worker.pid)


class Server(BaseApplication):
    """gunicorn run from Python with Stet's settings instead of a command line or config file."""

    def __init__(self, settings: Settings, workers: int, threads: int):
        self.settings = settings
        self.options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "graceful_timeout": 20,
            "timeout": 60,
            "accesslog": None,  # Stet logs each request itself (service.app.access), with its id
            # gunicorn's control socket lives at one path per user ($HOME/.gunicorn/gunicorn.ctl), so
            # two `stet api` on one machine would fight over it; Stet's processes are managed by signals.
            "control_socket_disable": True,
            "logger_class": Logs,
            "child_exit": child_exit,
        }
        self.scoring_slots = multiprocessing.BoundedSemaphore(max(1, settings.scoring_concurrency))
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """In each worker, after the fork: the app, with its scorer and the language detector loaded
        before the first request (so no first call waits for them) and the server's shared scoring
        slots."""
        from service import language
        from service.api.perspective import scorer_named
        from service.api.scoring_gate import ScoringGate
        from service.app import create_app

        app = create_app(self.settings)
        app.extensions["stet.scoring_gate"] = ScoringGate(slots=self.scoring_slots)
        scorer_named(self.settings.scorers)
        language.detect("A first comment loads the language model before any reader waits.")
        return app


def serve(settings: Settings, workers: int, threads: int) -> None:
    """Serve until SIGTERM or SIGINT (gunicorn's master stops its workers gracefully)."""
    Server(settings, workers, threads).run()
