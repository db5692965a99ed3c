"""Rate limits on the API (Flask-Limiter, counters in Redis): per site key on every route, and on
posting comments also per author and per reader IP address. Limits come from ``Settings``.

Posting a comment, the hot path, counts against its three budgets in one Redis round trip
(``count_new_comment``, answered while the view validates the request) rather than Flask-Limiter's
one per limit: the three round trips were a quarter of the API's CPU per comment
(``benchmarks/ingest.py``). The windows are Flask-Limiter's own
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
from typing import cast

import redis
from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis.commands.core import Script

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
def _script(storage: RedisStorage) -> Script:
    return storage.get_connection().register_script(_ACQUIRE_ALL)


class Count:
    """A posted comment's count against its budgets, asked of Redis and answered later
    (``count_new_comment``): the view validates the request while Redis runs the script."""

    def __init__(self, budgets: list[tuple[RateLimitItem, tuple[str, ...], str]], now: float) -> None:
        self.budgets, self.now = budgets, now
        self._reply: Callable[[], list[bytes]] | None = None
        self._full: tuple[int, float] | None = None

    def send(self, storage: RedisStorage) -> None:
        """Send the script on a connection of the storage's pool, kept until ``wait`` reads its reply."""
        script = _script(storage)
        keys = [storage.prefixed_key(item.key_for(*ids)) for item, ids, _ in self.budgets]
        args: list[float | int] = [self.now]
        for item, _ids, _scope in self.budgets:
            args += [item.amount, item.get_expiry()]
        pool = storage.get_connection().connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except BaseException:
            pool.release(connection)
            raise

        def reply() -> list[bytes]:
            try:
                return cast(list[bytes], connection.read_response())
            except redis.exceptions.NoScriptError:  # Redis restarted, or first use: load and run it
                return script(keys=keys, args=args)
            except BaseException:
                connection.disconnect()  # a reply may still be on its way: never reuse this one
                raise
            finally:
                pool.release(connection)

        self._reply = reply

    def count_in_memory(self) -> None:
        for n, (item, ids, _scope) in enumerate(self.budgets):
            if not _memory.hit(item, *ids):
                self._full = (n, _memory.get_window_stats(item, *ids).reset_time)
                return

    def wait(self) -> None:
        """Read Redis's answer (or the in-memory one) and answer 429 naming the full budget, with
        Retry-After; always call it once ``count_new_comment`` has returned, even on the way out
        with another error, so the connection goes back to the pool."""
        if self._reply is not None:
            reply, self._reply = self._reply, None
            try:
                number, until = reply()
                if number:
                    self._full = (int(number) - 1, float(until))
            except redis.RedisError as error:
                _redis_away(error)
                self.count_in_memory()
        if self._full is not None:
            item, _ids, scope = self.budgets[self._full[0]]
            metrics().rate_limited.labels(scope=scope).inc()
            raise APIError(
                429,
                "rate_limited",
                f"rate limit exceeded: {item}",
                headers={"Retry-After": str(max(1, math.ceil(self._full[1] - self.now)))},
            )


def _redis_away(error: Exception) -> None:
    """Count in this process's memory for ``REDIS_RETRY`` seconds."""
    global _redis_away_until
    if time.monotonic() >= _redis_away_until:
        log.warning("rate limits counted in this process's memory for %.0f s: %s", REDIS_RETRY, error)
        _redis_away_until = time.monotonic() + REDIS_RETRY


def count_new_comment() -> Count:
    """Count a posted comment against its site's, its author's and its reader address's limits
    (the last two when the body names them). The script is sent now and its answer read by
    ``Count.wait``, which answers 429: waiting for Redis in between cost a posting thread a
    blocking read and the processor to another thread, 5% of the API's comments per second
    (``benchmarks/ingest.py``)."""
    settings = current_app.config["STET_SETTINGS"]
    prefix, site = current_app.config["RATELIMIT_KEY_PREFIX"], site_key()  # Flask-Limiter's key parts
    budgets = [(item, (prefix, site, "site"), "site") for item in _items(settings.rate_limit_site)]
    for scope, posted, limit in (
        ("author", _posted("author", "id"), settings.rate_limit_author),
        ("ip", _posted("ip"), settings.rate_limit_ip),
    ):
        if posted != "-":
            budgets += [(item, (prefix, site, scope, posted), scope) for item in _items(limit)]
    count = Count(budgets, time.time())
    storage = limiter.storage
    try:
        if not isinstance(storage, RedisStorage) or time.monotonic() < _redis_away_until:
            raise redis.ConnectionError("no Redis storage")
        count.send(storage)
    except redis.RedisError as error:
        _redis_away(error)
        count.count_in_memory()
    return count


def _posting_a_comment() -> bool:
    """Flask-Limiter leaves posting a comment to ``count_new_comment``."""
    return request.method == "POST" and request.endpoint == "comments.create"


limiter.request_filter(_posting_a_comment)
