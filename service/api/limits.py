"""Rate limits on the API (Flask-Limiter, counters in Redis): per site key on every route, and on
posting comments also per author and per reader IP address. Limits come from ``Settings``."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app, request
from flask_limiter.util import get_remote_address

from service.web import limiter


def _setting(name: str) -> Callable[[], str]:
    return lambda: getattr(current_app.config["STET_SETTINGS"], name)


def site_key() -> str:
    """The caller's site key (hashed: raw keys never reach Redis), or its address when it sent none."""
    auth = request.headers.get("Authorization", "")
    key = auth.partition(" ")[2].strip() or request.args.get("key") or request.headers.get("X-Goog-Api-Key")
    if not key:
        return f"addr:{get_remote_address()}"
    return "site:" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _posted(*path: str) -> str:
    data = request.get_json(silent=True)
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return str(data) if isinstance(data, str | int) and not isinstance(data, bool) else "-"


def author_key() -> str:
    return f"{site_key()}:author:{_posted('author', 'id')}"


def reader_ip_key() -> str:
    return f"{site_key()}:ip:{_posted('ip')}"


# Shared: one budget per key across every route (a plain limit counts per endpoint).
per_site = limiter.shared_limit(_setting("rate_limit_site"), scope="site", key_func=site_key)
per_author = limiter.limit(
    _setting("rate_limit_author"),
    key_func=author_key,
    scope="author",
    override_defaults=False,  # the site's limit applies too
    exempt_when=lambda: _posted("author", "id") == "-",
)
per_reader_ip = limiter.limit(
    _setting("rate_limit_ip"),
    key_func=reader_ip_key,
    scope="ip",
    override_defaults=False,
    exempt_when=lambda: _posted("ip") == "-",
)
