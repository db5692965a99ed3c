"""Rate limits on the API (Flask-Limiter, counters in Redis): per site key on every route, and on
posting comments also per author and per reader IP address. Limits come from ``Settings``.

Posting a comment, the hot path, counts against its three budgets in one Redis round trip
(``count_new_comment``) rather than Flask-Limiter's one per limit: the three round trips were a
quarter of the API's CPU per comment (``benchmarks/ingest.py``). The windows are Flask-Limiter's own
(the ``limits`` package's moving-window lists under the same keys), so the site's budget stays one
budget across every route.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from functools import cache

import redis
from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

from service.api.errors import APIError
from service.metrics import metrics
from service.web import limiter

log = logging.getLogger(__name__)


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


# Shared: one budget per key across every route (a plain limit counts per endpoint).
per_site = limiter.shared_limit(_setting("rate_limit_site"), scope="site", key_func=site_key)

# Takes an entry in every window or in none (a comment refused for its author's limit does not use
# up its site's). KEYS: moving-window lists, newest timestamp first (the ``limits`` package's
# format); ARGV: now, then each window's size and length in seconds. Answers 0, or the 1-based
# number of the first full window and when its oldest counted entry leaves it.
_ACQUIRE_ALL = """
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local size, expiry = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local oldest = redis.call('lindex', key, size - 1)
  if oldest and tonumber(oldest) >= now - expiry then
    return {i, tostring(tonumber(oldest) + expiry)}
  end
end
for i, key in ipairs(KEYS) do
  local size, expiry = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('lpush', key, ARGV[1])
  redis.call('ltrim', key, 0, size - 1)
  redis.call('expire', key, expiry)
end
return {0, '0'}
"""

# Where the budgets are counted while Redis is away, as Flask-Limiter's in-memory fallback does; Redis
# is tried again after REDIS_RETRY seconds, so a Redis that hangs costs one request a wait, not all.
_memory = MovingWindowRateLimiter(MemoryStorage())
REDIS_RETRY = 5.0
_redis_away_until = 0.0


@cache
def _items(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


@cache
def _script(storage: RedisStorage) -> Callable[..., list[bytes]]:
    return storage.get_connection().register_script(_ACQUIRE_ALL)


def count_new_comment() -> None:
    """Count a posted comment against its site's, its author's and its reader address's limits
    (the last two when the body names them), or answer 429 naming the limit, with Retry-After."""
    settings = current_app.config["STET_SETTINGS"]
    prefix, site = current_app.config["RATELIMIT_KEY_PREFIX"], site_key()  # Flask-Limiter's key parts
    budgets = [(item, (prefix, site, "site"), "site") for item in _items(settings.rate_limit_site)]
    for scope, posted, limit in (
        ("author", _posted("author", "id"), settings.rate_limit_author),
        ("ip", _posted("ip"), settings.rate_limit_ip),
    ):
        if posted != "-":
            budgets += [(item, (prefix, site, scope, posted), scope) for item in _items(limit)]
    global _redis_away_until
    now = time.time()
    storage = limiter.storage
    full: tuple[int, float] | None = None
    try:
        if not isinstance(storage, RedisStorage) or time.monotonic() < _redis_away_until:
            raise redis.ConnectionError("no Redis storage")
        keys = [storage.prefixed_key(item.key_for(*ids)) for item, ids, _ in budgets]
        args: list[float | int] = [now]
        for item, _ids, _scope in budgets:
            args += [item.amount, item.get_expiry()]
        number, until = _script(storage)(keys=keys, args=args)
        if number:
            full = (int(number) - 1, float(until))
    except redis.RedisError as error:
        if time.monotonic() >= _redis_away_until:
            log.warning("rate limits counted in this process's memory for %.0f s: %s", REDIS_RETRY, error)
            _redis_away_until = time.monotonic() + REDIS_RETRY
        for n, (item, ids, _scope) in enumerate(budgets):
            if not _memory.hit(item, *ids):
                full = (n, _memory.get_window_stats(item, *ids).reset_time)
                break
    if full is not None:
        item, _ids, scope = budgets[full[0]]
        metrics().rate_limited.labels(scope=scope).inc()
        raise APIError(
            429,
            "rate_limited",
            f"rate limit exceeded: {item}",
            headers={"Retry-After": str(max(1, math.ceil(full[1] - now)))},
        )


def _posting_a_comment() -> bool:
    """Flask-Limiter leaves posting a comment to ``count_new_comment``."""
    return request.method == "POST" and request.endpoint == "comments.create"


limiter.request_filter(_posting_a_comment)
