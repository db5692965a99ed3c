"""Log lines for every Stet process: text or one JSON object per line, each carrying the id of the
request it serves, so one id follows a comment from its POST to the worker that decides it and the
webhooks that announce it.

The id lives in a context variable: the API sets it per request, the worker per comment it decides,
and ``events.emit`` stores it on each webhook delivery. Nothing here knows HTTP or Celery.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

request_id: ContextVar[str | None] = ContextVar("stet_request_id", default=None)

# A caller's X-Request-Id is kept when it is short and plain (it goes into headers and log lines).
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@+/=-]{1,128}")


def safe_request_id(value: str | None) -> str | None:
    """``value`` if it is fit to be a request id (1–128 letters, digits or ``._:@+/=-``), else None."""
    return value if value is not None and _SAFE_ID.fullmatch(value) else None


def new_request_id() -> str:
    return uuid.uuid4().hex


@contextmanager
def bound(value: str | None) -> Iterator[None]:
    """Log lines (and webhook deliveries) written inside carry ``value`` as their request id."""
    token = request_id.set(value)
    try:
        yield
    finally:
        request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Gives every record a ``request_id`` attribute ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return True


# What every LogRecord has; anything else on a record came from ``extra=`` and goes into the JSON.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, the record's extras and,
    for an exception, its traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid and rid != "-":
            line["request_id"] = rid
        line.update((k, v) for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_"))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure(fmt: str = "text", level: str = "INFO", filters: tuple[logging.Filter, ...] = ()) -> None:
    """Send every logger's records to standard error in ``fmt`` ("text" or "json"), from ``level``."""
    if fmt not in FORMATS:
        raise ValueError(f"STET_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    for extra in filters:
        handler.addFilter(extra)
    handler.setFormatter(JSONFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at info; Stet logs its webhook and Akismet calls itself.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
