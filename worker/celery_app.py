"""The Celery app, built from the same Settings as the API.

Run it with ``stet worker`` (which also runs the periodic sweep). Tasks are
acknowledged late and rejected on worker loss so a killed worker's task goes
back to the queue. Scoring runs in batches (``worker.tasks``), so each process reserves
enough messages to fill one.
"""

from __future__ import annotations

from functools import lru_cache

from celery import Celery

from service import events
from service.config import Settings
from service.db import Database
from worker import observability, transport
from worker.enqueue import (
    QUEUE,
    REPORTS_FILL_INTERVAL,
    REPORTS_FILL_TASK,
    SWEEP_TASK,
    WEBHOOK_SWEEP_TASK,
    enqueue_akismet_feedback,
    enqueue_deliveries,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Seconds a task may run: past the soft limit it is told (worker.tasks leaves a scoring run's
# comments to the sweep), past the hard one its process is replaced. These are the worker's
# defaults because celery-batches hands its runs to the pool without the task's own limits; tasks
# that need longer (the report rollups) or less (webhooks, Akismet) set their own.
SOFT_LIMIT, HARD_LIMIT = 60, 90


def make_celery(settings: Settings) -> Celery:
    broker = settings.redis_url or DEFAULT_REDIS_URL
    app = Celery("stet", broker=broker)
    if broker.startswith("redis://"):  # TLS, sockets and Sentinel keep kombu's transport as it is
        app.conf.broker_transport = transport.TRANSPORT
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_soft_time_limit=SOFT_LIMIT,
        task_time_limit=HARD_LIMIT,
        # Scoring collects up to settings.score_batch comments per run: each process may hold
        # one batch running and one filling (celery-batches needs them reserved, unacknowledged).
        worker_prefetch_multiplier=2 * max(1, settings.score_batch),
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            # An unacknowledged task returns to the queue after this long; the
            # sweep usually re-enqueues a stuck comment well before that.
            "visibility_timeout": 600,
            "socket_timeout": 5,
            "socket_connect_timeout": 2,
        },
        worker_hijack_root_logger=False,
        timezone="UTC",
        beat_schedule={
            "sweep-pending": {"task": SWEEP_TASK, "schedule": settings.sweep_interval},
            "sweep-webhooks": {"task": WEBHOOK_SWEEP_TASK, "schedule": settings.sweep_interval},
            "fill-report-rollups": {"task": REPORTS_FILL_TASK, "schedule": REPORTS_FILL_INTERVAL},
        },
    )
    return app


@lru_cache(maxsize=1)
def worker_settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def worker_database() -> Database:
    """The worker process's database, created on first use (after the fork); the webhook deliveries
    its commits write (``comment.decided``) are handed to the workers right after each commit."""
    database = Database(worker_settings().sqlalchemy_url)
    events.on_new_deliveries(database.sessions, lambda ids: enqueue_deliveries(celery, ids))
    events.on_moderator_decisions(database.sessions, lambda ids: enqueue_akismet_feedback(celery, ids))
    return database


celery = make_celery(worker_settings())
observability.connect(worker_settings)
celery.autodiscover_tasks(["worker"], related_name="tasks", force=True)
celery.autodiscover_tasks(["worker"], related_name="webhooks", force=True)
