"""kombu's Redis transport with one Redis client per channel instead of one per published message.

kombu's Redis channel builds a new ``redis.Redis`` around its connection pool for every message it
publishes (``Channel._put``); in ``stet api`` that object's construction was about a sixth of
``Celery.send_task``'s CPU (0.42 -> 0.30 ms per task measured alone; with the process cache's
change, 7.68 -> 6.90 M instructions per posted comment, ``benchmarks/instructions.py``). The
client kept here wraps the same pool, so connections, timeouts and retries are kombu's own; only
the wrapper is reused. Consuming (BRPOP) is untouched.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from kombu.transport import redis as kombu_redis

# What make_celery sets as ``broker_transport`` for a plain ``redis://`` broker URL.
TRANSPORT = "worker.transport:Transport"


class Channel(kombu_redis.Channel):
    @cached_property
    def _publish_client(self) -> Any:
        return self._create_client()

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        priority = self._get_message_priority(message, reverse=False)
        self._publish_client.lpush(self._q_for_pri(queue, priority), kombu_redis.dumps(message))


class Transport(kombu_redis.Transport):
    Channel = Channel
