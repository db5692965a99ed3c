"""Stet's Prometheus metrics (prometheus-client), counted where things happen and read at /metrics.

``stet api`` and ``stet worker`` run several processes each; they count into files under
``PROMETHEUS_MULTIPROC_DIR`` (the library's multiprocess mode), which the process serving /metrics
adds up. The library picks that mode when it is first imported, so it is imported here only on
first use: after the command has set the directory. Labels are bounded sets only (site ids, routes,
outcomes), never article or author ids.
"""

from __future__ import annotations

import atexit
import hmac
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

# Seconds: scoring a batch takes from milliseconds (linear) to seconds (a transformer on a full batch).
SCORING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Seconds from a comment's arrival to its decision: sub-second normally, minutes when a backlog builds.
DECISION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class Metrics:
    comments_received: Counter
    comments_decided: Counter
    decision_seconds: Histogram
    scoring_seconds: Histogram
    webhook_attempts: Counter
    rate_limited: Counter
    http_request_seconds: Histogram


_made = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics, made on first use (see the module's docstring) by one thread: two
    request threads making them at once registered each metric twice, and one of them got a 500."""
    with _made:
        return _make()


@cache
def _make() -> Metrics:
    from prometheus_client import Counter, Histogram

    return Metrics(
        comments_received=Counter(
            "stet_comments_received", "New comments saved (a retry of a saved one is not counted).", ["site"]
        ),
        comments_decided=Counter(
            "stet_comments_decided",
            "Decisions on comments: by auto (the worker) or moderator; status approved, queued or rejected.",
            ["site", "by", "status"],
        ),
        decision_seconds=Histogram(
            "stet_comment_decision_seconds",
            "From a comment's arrival to the worker's decision on it.",
            buckets=DECISION_BUCKETS,
        ),
        scoring_seconds=Histogram(
            "stet_scoring_seconds",
            "One call of a scorer: the toxicity model scores a whole batch at once, spam one comment.",
            ["scorer"],
            buckets=SCORING_BUCKETS,
        ),
        webhook_attempts=Counter(
            "stet_webhook_attempts",
            "Webhook delivery attempts: outcome delivered, retry (will be tried again) or failed (given up).",
            ["site", "event", "outcome"],
        ),
        rate_limited=Counter(
            "stet_rate_limited", "Requests refused with 429 by a rate limit, by the limit's scope.", ["scope"]
        ),
        http_request_seconds=Histogram(
            "stet_http_request_duration_seconds",
            "HTTP requests by method, route (the URL rule, not the path) and status.",
            ["method", "route", "status"],
        ),
    )


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _remove_orphans(folder: Path) -> None:
    """Remove the directories of killed ``stet api``/``stet worker`` processes (no exit hook ran)."""
    for orphan in folder.glob("stet-metrics-*-*-*"):
        try:
            os.kill(int(orphan.name.split("-")[3]), 0)
        except ProcessLookupError:
            shutil.rmtree(orphan, ignore_errors=True)
        except (ValueError, OSError):
            pass  # not ours to judge: a name we did not make, or another user's live process


def use_directory(kind: str) -> Path:
    """Make this process and the ones it forks count into files: in ``PROMETHEUS_MULTIPROC_DIR`` when
    the operator set it (emptied now, so give each ``stet api`` and ``stet worker`` its own), else in
    a new private directory removed when this process exits. Call before anything counts."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before the metrics directory was chosen")
    given = multiprocess_dir()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return path
    owner = os.getpid()
    _remove_orphans(Path(tempfile.gettempdir()))
    path = Path(tempfile.mkdtemp(prefix=f"stet-metrics-{kind}-{owner}-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    # Forked processes inherit this hook; only the process that made the directory removes it.

    @atexit.register
    def _remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    return path


class _ThisProcess:
    """This process's own registry, for a process that counts in memory (no multiprocess dir)."""

    def collect(self) -> Iterable[Any]:
        from prometheus_client import REGISTRY

        return REGISTRY.collect()


def exposition(*collectors: Any) -> tuple[bytes, str]:
    """The text format of every process's metrics (or this process's alone) and of ``collectors``,
    with its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def authorized(token: str, authorization: str | None) -> bool:
    """Whether an ``Authorization`` header grants access when /metrics asks for ``token`` (none: open)."""
    if not token:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def mark_process_dead(pid: int) -> None:
    """A server or worker process exited: drop its live gauges from the shared files (its counters stay,
    as Prometheus expects of counters)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
