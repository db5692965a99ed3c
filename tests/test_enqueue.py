"""Handing comment ids to the workers: every id lands on the scoring queue, cheaply and safely."""

from __future__ import annotations

import base64
import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor

from worker import transport
from worker.celery_app import make_celery
from worker.enqueue import QUEUE, SCORE_TASK, enqueue_scoring


def queued_ids(broker) -> list[int]:
    """The comment ids of the scoring messages waiting in Redis, as a worker will read them."""
    ids = []
    for raw in broker.lrange(QUEUE, 0, -1):
        message = json.loads(raw)
        assert message["headers"]["task"] == SCORE_TASK
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        ids.append(args[0])
    return ids


def test_every_id_enqueued_from_many_threads_lands_on_the_queue_once(settings, broker):
    celery = make_celery(settings)
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda i: enqueue_scoring(celery, [i]), range(200)))

    assert sorted(queued_ids(broker)) == list(range(200))


def test_a_channel_publishes_every_message_through_one_redis_client(settings, broker, monkeypatch):
    made: list[int] = []
    create = transport.Channel._create_client
    monkeypatch.setattr(
        transport.Channel, "_create_client", lambda self, **kw: made.append(1) or create(self, **kw)
    )
    celery = make_celery(settings)
    with celery.producer_or_acquire() as producer:
        celery.send_task(SCORE_TASK, args=[0], producer=producer)
        made.clear()
        for i in range(1, 5):
            celery.send_task(SCORE_TASK, args=[i], producer=producer)

    assert queued_ids(broker) == [4, 3, 2, 1, 0]
    assert made == []  # kombu's own channel makes a client for every message


def test_tls_and_sentinel_brokers_keep_kombus_transport(settings):
    for url in ("rediss://127.0.0.1:6380/0", "sentinel://127.0.0.1:26379"):
        celery = make_celery(dataclasses.replace(settings, redis_url=url))
        assert celery.connection_for_write().transport_cls == url.partition(":")[0]
