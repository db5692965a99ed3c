"""Celery tasks: thin wrappers that re-fetch by id and call the domain functions."""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from celery import Task, shared_task
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from service import moderation
from service.models import Comment, Site, Status, WordKind
from service.queue import QUEUE, SCORE_TASK, SWEEP_TASK, enqueue_scoring
from service.reporting import rollup
from worker.celery_app import worker_database, worker_settings
from worker.pipeline import CommentContext, Pipeline
from worker.recent import Posting
from worker.scorers.spam.wordlists import WordLists

log = logging.getLogger(__name__)


class ScoringTask(Task):
    """Builds the scoring pipeline (models, Redis) once per worker process, on first use."""

    _pipeline: Pipeline | None = None

    @property
    def pipeline(self) -> Pipeline:
        if ScoringTask._pipeline is None:
            client = redis.Redis.from_url(self.app.conf.broker_url, socket_timeout=5)
            ScoringTask._pipeline = Pipeline(worker_settings(), client)
        return ScoringTask._pipeline


@shared_task(
    bind=True,
    base=ScoringTask,
    name=SCORE_TASK,
    acks_late=True,
    autoretry_for=(OperationalError, RedisError, ConnectionError),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=8,
    soft_time_limit=60,
    time_limit=90,
)
def score_comment(self: ScoringTask, comment_id: int) -> None:
    """Score one comment and decide it; a no-op when it is already decided."""
    db = worker_database()
    with db.session() as session:
        comment = session.get(Comment, comment_id)
        if comment is None or comment.status != Status.PENDING.value:
            return
        lists = moderation.word_lists(session, comment.site_id)
        body = comment.body
        context = CommentContext(
            posting=Posting(
                site_id=comment.site_id,
                comment_id=comment.id,
                author=comment.author.external_id,
                article=comment.article.external_id,
                ip=comment.ip,
                posted_at=comment.created_at.timestamp(),
            ),
            author_comment_count=moderation.earlier_comment_count(session, comment),
            wordlists=_compile(lists),
            user_agent=comment.user_agent,
            permalink=comment.article.url,
            akismet=(site.akismet_key, site.akismet_blog or "")
            if (site := comment.site).akismet_key
            else None,
        )
    results = self.pipeline.score(body, context)
    with db.session() as session:
        moderation.record_scores(session, comment_id, results, worker_settings())


def _compile(lists: dict[WordKind, list[str]]) -> WordLists:
    """A site's word lists; an entry the matcher refuses is logged and left out, never a stuck comment."""
    try:
        return WordLists(lists[WordKind.BANNED], lists[WordKind.SUSPECT], lists[WordKind.ALLOWED_DOMAIN])
    except ValueError:
        log.exception("a site's word lists do not compile; scoring without them")
        return WordLists()


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
    enqueue_scoring(score_comment.app, ids)
    return len(ids)


@shared_task(name=rollup.FILL_TASK, ignore_result=True)
def fill_report_rollups() -> int:
    """Keep every site's report rollup filled, so a report page computes only the last hour live."""
    with worker_database().session() as session:
        sites = list(session.scalars(select(Site)))
        for site in sites:
            rollup.fill_site(session, site, worker_settings())
    return len(sites)
