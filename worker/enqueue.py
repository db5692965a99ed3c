"""Task names, and handing ids to the workers after the database commit.

Beside the Celery app because they are the queue's vocabulary; the API and the dashboard call
these after committing, the core never does. A failed publish is logged, not raised: what it
would have carried is already saved (a pending comment, a pending delivery), and the beat sweeps
re-enqueue it, so a broker outage delays a decision or a webhook but never loses one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import Celery

from service import logs

log = logging.getLogger(__name__)

QUEUE = "stet"
SCORE_TASK = "stet.score_comment"
SWEEP_TASK = "stet.sweep_pending"
DELIVER_TASK = "stet.deliver_webhook"
WEBHOOK_SWEEP_TASK = "stet.sweep_webhooks"
REPORTS_FILL_TASK = "stet.fill_report_rollups"
REPORTS_FILL_INTERVAL = 300  # seconds between rollup fills (service.reporting.rollup)
AKISMET_FEEDBACK_TASK = "stet.akismet_feedback"
# The message header carrying the id of the request that posted a comment to the task deciding it.
REQUEST_ID_HEADER = "stet_request_id"

# Publishing must not hold an API request for long when Redis is away.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def enqueue_scoring(celery: Celery, comment_ids: Iterable[int]) -> bool:
    """Send one scoring task per id, with the current request's id; True when every one was published."""
    rid = logs.request_id.get()
    headers = {REQUEST_ID_HEADER: rid} if rid else {}
    try:
        for comment_id in comment_ids:
            celery.send_task(
                SCORE_TASK, args=[comment_id], headers=headers, retry=True, retry_policy=_PUBLISH_RETRY
            )
    except Exception:  # noqa: BLE001 - any broker failure is recovered by the sweep
        log.warning("could not enqueue comments for scoring; the sweep will retry", exc_info=True)
        return False
    return True


def enqueue_deliveries(celery: Celery, delivery_ids: Iterable[int]) -> None:
    """Hand webhook deliveries to the worker; if the broker is away the sweep sends them."""
    try:
        for delivery_id in delivery_ids:
            celery.send_task(
                DELIVER_TASK,
                args=[delivery_id],
                retry=True,
                retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
            )
    except Exception:  # noqa: BLE001 - the sweep delivers whatever could not be enqueued
        log.warning("could not enqueue webhook deliveries; the sweep will send them", exc_info=True)


def enqueue_akismet_feedback(celery: Celery, decision_ids: Iterable[int]) -> None:
    """Hand moderators' decisions to the worker, which tells Akismet where it was wrong."""
    try:
        celery.send_task(
            AKISMET_FEEDBACK_TASK, args=[list(decision_ids)], retry=True, retry_policy=_PUBLISH_RETRY
        )
    except Exception:  # noqa: BLE001 - feedback is best effort: Akismet learns a little less
        log.warning("could not enqueue Akismet feedback", exc_info=True)
