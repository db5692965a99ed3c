"""Celery tasks: thin wrappers that re-fetch by id and call the domain functions."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import redis
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery_batches import Batches
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service import logs, moderation
from service.models import Comment, Decision, Site, Status
from service.reasons import ReasonCode
from service.reporting import rollup
from worker.celery_app import worker_database, worker_settings
from worker.enqueue import (
    AKISMET_FEEDBACK_TASK,
    QUEUE,
    REPORTS_FILL_TASK,
    REQUEST_ID_HEADER,
    SCORE_TASK,
    SWEEP_TASK,
    enqueue_scoring,
)
from worker.pipeline import Pipeline, decide_pending, hold_unscored
from worker.scorers.spam.akismet import Akismet

log = logging.getLogger(__name__)


BATCH_WAIT = 0.2  # seconds a comment waits for others before a smaller batch runs
# A comment the pipeline failed on this many times (each attempt a sweep apart) is queued for a
# person without scores, instead of being retried for ever (and holding up the batches it joins).
MAX_FAILURES = 3
FAILURES = "stet:scoring-failures:{}"  # a Redis counter per comment


class ScoringTask(Batches):
    """Collects waiting comments into batches (celery-batches) and builds the scoring pipeline
    (models, Redis) once per worker process, on first use.

    A batch is acknowledged after it ran (``acks_late``). A comment a failed run left pending is
    re-enqueued by the sweep, and deciding is idempotent, so none is lost or decided twice.
    """

    flush_every = worker_settings().score_batch
    flush_interval = BATCH_WAIT
    _pipeline: Pipeline | None = None

    def Strategy(self, task: Any, app: Any, consumer: Any) -> Any:  # noqa: N802 - Celery's name
        """celery-batches' strategy, with a fresh flush timer for each consumer start.

        When the connection to the broker drops, Celery empties its event loop's timers
        (``celery.worker.loops``) and starts the consumer again, which asks for the strategy again;
        celery-batches still held its dropped flush timer and started no new one, so a batch
        smaller than ``flush_every`` waited for more messages or the sweep (90 s after a Redis
        restart in the fault suite).
        """
        self._tref = None
        return super().Strategy(task, app, consumer)

    @property
    def pipeline(self) -> Pipeline:
        if ScoringTask._pipeline is None:
            client = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=5)
            ScoringTask._pipeline = Pipeline(worker_settings(), client)
        return ScoringTask._pipeline


# A run's time limits are the worker's defaults (worker.celery_app.SOFT_LIMIT): celery-batches passes
# none of the task's own to the pool.
@shared_task(bind=True, base=ScoringTask, name=SCORE_TASK, acks_late=True, ignore_result=True)
def score_comments(self: ScoringTask, requests: list[Any]) -> None:
    """Score and decide the batch's comments (each message carries one comment id, and the id of the
    request that posted it in its ``REQUEST_ID_HEADER`` header)."""
    request_ids: dict[int, str] = {}
    for r in requests:
        comment_id = int(r.args[0] if r.args else r.kwargs["comment_id"])
        rid = logs.safe_request_id((r.request_dict or {}).get(REQUEST_ID_HEADER))
        if rid or comment_id not in request_ids:
            request_ids[comment_id] = rid or ""
    decided = decide_batch(sorted(request_ids), self.pipeline, request_ids)
    log.info("scoring batch: %d messages, %d comments decided", len(requests), decided)


def decide_batch(ids: Sequence[int], pipeline: Pipeline, request_ids: Mapping[int, str] | None = None) -> int:
    """``decide_comments``, falling back to one comment at a time when the batch fails on something
    other than the database or the broker being away (those leave the batch to the sweep).

    Comments the pipeline failed on before are decided after the batch, one by one, those with
    the most failures last; so a comment that makes the pipeline fail or hang holds up no other
    for long, and at its ``MAX_FAILURES``-th failure it is queued for a person unscored."""
    failures = _failures(pipeline, ids)
    fresh = [i for i in ids if not failures.get(i)]
    suspects = sorted((i for i in ids if failures.get(i)), key=lambda i: (failures[i], i))
    decided, trying = 0, fresh
    try:
        if fresh:
            try:
                decided += decide_comments(fresh, pipeline, request_ids)
            except (SoftTimeLimitExceeded, OperationalError, RedisError, ConnectionError):
                raise
            except Exception:  # noqa: BLE001 - one comment the pipeline cannot take must not hold up the others
                log.exception("a batch of %d comments failed; deciding them one by one", len(fresh))
                suspects = fresh + suspects
        for comment_id in suspects:
            trying = [comment_id]
            try:
                decided += decide_comments(trying, pipeline, request_ids)
            except (SoftTimeLimitExceeded, OperationalError, RedisError, ConnectionError):
                raise
            except Exception as error:  # noqa: BLE001 - counted; held for a person in the end
                with logs.bound((request_ids or {}).get(comment_id)):
                    log.exception("comment %d could not be scored", comment_id)
                decided += _failed(pipeline, comment_id, error)
    except SoftTimeLimitExceeded as error:
        log.error("scoring %d comments ran out of time; the sweep will re-enqueue them", len(trying))
        decided += sum(_failed(pipeline, comment_id, error) for comment_id in trying)
    except (OperationalError, RedisError, ConnectionError):
        log.warning("scoring %d comments failed; the sweep will re-enqueue them", len(ids), exc_info=True)
    return decided


def _failures(pipeline: Pipeline, ids: Sequence[int]) -> dict[int, int]:
    """How often the pipeline failed on each of ``ids`` lately (none known while Redis is away)."""
    try:
        counts = pipeline.client.mget([FAILURES.format(i) for i in ids])
    except RedisError:
        return {}
    return {i: int(c) for i, c in zip(ids, counts, strict=True) if c}


def _failed(pipeline: Pipeline, comment_id: int, error: BaseException) -> int:
    """Count one failure on ``comment_id``; at the ``MAX_FAILURES``-th, queue it for a person
    without scores. Returns 1 when that decided it."""
    key = FAILURES.format(comment_id)
    try:
        failures = int(pipeline.client.incr(key))
        pipeline.client.expire(key, 86_400)
    except RedisError:
        return 0  # the sweep brings it back; counting starts again when Redis does
    if failures < MAX_FAILURES:
        return 0
    why = (
        f"could not be scored automatically ({failures} attempts failed, the last with "
        f"{type(error).__name__}): a person decides"
    )
    return int(hold_unscored(worker_database(), worker_settings(), comment_id, why))


def decide_comments(
    ids: Sequence[int], pipeline: Pipeline, request_ids: Mapping[int, str] | None = None
) -> int:
    """Score the pending comments among ``ids`` in one pass and decide each; returns how many."""
    return decide_pending(ids, pipeline, worker_database(), worker_settings(), request_ids)


def _backlog() -> int:
    """Messages waiting in the scoring queue (0 when it cannot be read)."""
    try:
        with sweep_pending.app.connection_for_read() as conn:
            return int(conn.default_channel.client.llen(QUEUE))
    except (RedisError, OSError, AttributeError):
        return 0


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_pending() -> int:
    """Re-enqueue comments left pending too long (lost message, killed worker, flushed Redis).

    While the queue still holds a backlog, a pending comment is most likely in it,
    so only comments ten times past the timeout are re-enqueued then; once the
    queue drains, anything past the timeout is. Duplicates are harmless (the task
    is idempotent) but would lengthen a long queue.
    """
    settings = worker_settings()
    timeout = settings.pending_timeout * (10 if _backlog() else 1)
    with worker_database().session() as session:
        ids = moderation.stale_pending(session, timedelta(seconds=timeout))
        if not ids:
            return 0
        moderation.mark_enqueued(session, ids)
        session.commit()
    log.info("sweep: re-enqueueing %d pending comments", len(ids))
    enqueue_scoring(score_comments.app, ids)
    return len(ids)


@shared_task(name=REPORTS_FILL_TASK, ignore_result=True, soft_time_limit=1800, time_limit=1860)
def fill_report_rollups() -> int:
    """Keep every site's report rollup filled, so a report page computes only the last hour live."""
    with worker_database().session() as session:
        sites = list(session.scalars(select(Site)))
        for site in sites:
            rollup.fill_site(session, site, worker_settings())
    return len(sites)


@shared_task(name=AKISMET_FEEDBACK_TASK, ignore_result=True, soft_time_limit=60, time_limit=90)
def akismet_feedback(decision_ids: list[int]) -> int:
    """Tell Akismet where a moderator overturned it, as Akismet asks of its clients: an approved
    comment it called spam goes to ``submit-ham``, one rejected as spam that it let through to
    ``submit-spam``. Only for sites with Akismet; returns how many were sent."""
    settings = worker_settings()
    sent = 0
    with worker_database().session() as session:
        for decision in session.scalars(select(Decision).where(Decision.id.in_(decision_ids))):
            comment = session.get(Comment, decision.comment_id)
            site = comment.site if comment is not None else None
            if comment is None or site is None or not site.akismet_key or not comment.ip:
                continue
            flagged = any(r.code == ReasonCode.AKISMET for r in comment.reasons)
            code = (decision.details or {}).get("code")
            if decision.status == Status.APPROVED.value and flagged:
                verdict = "ham"
            elif decision.status == Status.REJECTED.value and code == "spam" and not flagged:
                verdict = "spam"
            else:
                continue
            akismet = Akismet(
                site.akismet_key, site.akismet_blog or "", endpoint=settings.akismet_endpoint or None
            )
            sent += akismet.submit(
                verdict,
                content=comment.body,
                user_ip=comment.ip,
                user_agent=comment.user_agent,
                author=comment.author.external_id,
                permalink=comment.article.url,
                posted_at=comment.created_at,
                language=comment.language or site.language,
            )
    return sent
