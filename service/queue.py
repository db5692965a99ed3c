"""Handing comment ids to the workers, after the database commit.

A failed publish is logged, not raised: the comment is already saved as
pending, and the worker's periodic sweep re-enqueues it, so a broker outage
delays a decision but never loses a comment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import Celery

log = logging.getLogger(__name__)

QUEUE = "stet"
SCORE_TASK = "stet.score_comment"
SWEEP_TASK = "stet.sweep_pending"

# Publishing must not hold an API request for long when Redis is away.
_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def enqueue_scoring(celery: Celery, comment_ids: Iterable[int]) -> bool:
    """Send one scoring task per id; True when every one was published."""
    try:
        for comment_id in comment_ids:
            celery.send_task(SCORE_TASK, args=[comment_id], retry=True, retry_policy=_PUBLISH_RETRY)
    except Exception:  # noqa: BLE001 - any broker failure is recovered by the sweep
        log.warning("could not enqueue comments for scoring; the sweep will retry", exc_info=True)
        return False
    return True
