"""The Flask pieces both faces (the JSON API and the dashboard) share: CSRF protection, the rate
limiter, the row-id URL converter, and the request's database session. The domain core never
imports this module; ``service.app`` wires it into the app."""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter

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


# The dashboard runs no inline script (keys.js and htmx are files), so scripts come from this
# origin only; style attributes draw the score bars. No page may be framed (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def security_headers(response: Response) -> Response:
    """Every answer carries the security headers (a view may set its own first)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_database(app: Flask, database: Database) -> None:
    """Give ``app`` the database, with one session per request closed at teardown."""
    app.extensions["stet.db"] = database
    app.teardown_appcontext(_close_request_session)


def get_session() -> Session:
    """The current request's session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["stet.db"].sessions()
    return g.db_session


def _close_request_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
