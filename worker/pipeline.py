"""What the worker runs for each comment: toxicity, spam with its context, and the reasons.

Toxicity's reasons are its toxic spans (code ``toxic_span``), computed only for comments that
score at or above the approve threshold: a clearly clean comment has nothing to highlight.

Loaded once per worker process (the models are the heavy part). The task fetches the context
from the database (the site's word lists, how many comments the author posted before) and
hands the results to ``moderation.record_scores``, which applies the policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from service import language, logs, moderation
from service.config import Settings
from service.db import Database
from service.metrics import metrics
from service.models import Comment, Status, WordKind, utcnow
from service.moderation import ScorerResult
from service.policy import Reason
from service.reasons import ReasonCode
from service.wordlists import WordLists, WordMatch
from worker.recent import MIN_WORDS, Posting, RecentActivity
from worker.scorers import Explainer, load_scorer
from worker.scorers.spam import SpamScorer
from worker.scorers.spam.akismet import Akismet
from worker.scorers.spam.similarity import signature

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommentContext:
    """The facts about a comment that scoring needs beyond its text."""

    posting: Posting  # who posted it where and when (its signature is filled in here)
    author_comment_count: int  # the author's earlier comments on this site
    wordlists: WordLists
    user_agent: str | None = None
    permalink: str | None = None  # the article's URL
    akismet: tuple[str, str] | None = None  # the site's Akismet (key, blog URL), when it has one
    language: str | None = None  # the comment's language (its site's when too short to tell)


def span_reasons(body: str, spans: Iterable[tuple[int, int, float]]) -> list[Reason]:
    """Toxic spans as reasons: the span's text, its weight, its offsets."""
    return [
        Reason(ReasonCode.TOXIC_SPAN, round(weight, 4), body[start:end], [(start, end)])
        for start, end, weight in spans
    ]


def _word_reasons(code: str, label: str, matches: Iterable[WordMatch]) -> list[Reason]:
    return [
        Reason(code, 0.0, f"{label}: {m.text!r} (list entry {m.entry!r})", [(m.start, m.end)])
        for m in matches
    ]


class Pipeline:
    def __init__(self, settings: Settings, client: redis.Redis):
        self.client = client
        self.toxicity = load_scorer(settings.scorers)
        # A site may approve below a lower threshold than the installation's; its comments between the
        # two are still queued, just without highlighted spans.
        self.explain_above = settings.approve_below
        self.spam = SpamScorer.load() if settings.spam else None
        language.detect("The language model loads with the scorers, not on the first comment.")
        self.akismet_endpoint = settings.akismet_endpoint or None
        self._akismet: dict[tuple[str, str], Akismet] = {}
        self.recent = RecentActivity(
            client,
            window=settings.repetition_window,
            author_limit=settings.author_burst_limit,
            ip_limit=settings.ip_burst_limit,
        )

    def score(self, body: str, context: CommentContext) -> list[ScorerResult]:
        return self.score_batch([body], [context])[0]

    def score_batch(
        self, bodies: Sequence[str], contexts: Sequence[CommentContext]
    ) -> list[list[ScorerResult]]:
        """Every comment's results; the toxicity model runs once over the whole batch (one encoder
        pass costs far less than one per comment), spam and its context per comment."""
        started = time.perf_counter()
        all_scores = self.toxicity.score_batch(list(bodies))
        metrics().scoring_seconds.labels(scorer=self.toxicity.name).observe(time.perf_counter() - started)
        spans = self._spans(bodies, all_scores)
        return [
            [
                ScorerResult(
                    self.toxicity.name, self.toxicity.version, scores, found, self.toxicity.languages
                ),
                *self._spam(body, context),
            ]
            for body, context, scores, found in zip(bodies, contexts, all_scores, spans, strict=True)
        ]

    def _spam(self, body: str, context: CommentContext) -> list[ScorerResult]:
        if self.spam is None:
            return []
        started = time.perf_counter()
        sig = signature(body) if len(body.split()) >= MIN_WORDS else None
        activity = self.recent.observe(replace(context.posting, signature=sig))
        activity += self._ask_akismet(body, context)
        spam = self.spam.assess(
            body,
            wordlists=context.wordlists,
            author_comment_count=context.author_comment_count,
            extra_reasons=activity,
        )
        reasons = list(spam.reasons)
        reasons += _word_reasons(ReasonCode.BANNED_WORD, "banned word", spam.banned)
        reasons += _word_reasons(ReasonCode.SUSPECT_WORD, "suspect word", spam.suspect)
        metrics().scoring_seconds.labels(scorer=self.spam.name).observe(time.perf_counter() - started)
        return [ScorerResult(self.spam.name, self.spam.version, {"spam": spam.score}, reasons)]

    def _spans(self, bodies: Sequence[str], scores: Sequence[dict[str, float]]) -> list[list[Reason]]:
        """The toxic spans as reasons, for comments a person may see (not for clearly clean ones)."""
        out: list[list[Reason]] = [[] for _ in bodies]
        if not isinstance(self.toxicity, Explainer):
            return out
        todo = [i for i, s in enumerate(scores) if s.get("toxicity", 0.0) >= self.explain_above]
        for i, found in zip(todo, self.toxicity.explain([bodies[i] for i in todo]), strict=True):
            out[i] = span_reasons(bodies[i], found)
        return out

    def _ask_akismet(self, body: str, context: CommentContext) -> list[Reason]:
        """Akismet's verdict as a reason, for sites that configured it; nothing when it is away."""
        if context.akismet is None:
            return []
        if context.akismet not in self._akismet:
            key, blog = context.akismet
            self._akismet[context.akismet] = Akismet(key, blog, endpoint=self.akismet_endpoint)
        reason = self._akismet[context.akismet].check(
            content=body,
            user_ip=context.posting.ip,
            user_agent=context.user_agent,
            author=context.posting.author,
            permalink=context.permalink,
            posted_at=datetime.fromtimestamp(context.posting.posted_at, UTC),
            language=context.language,
        )
        return [reason] if reason is not None else []


def decide_pending(
    ids: Sequence[int],
    pipeline: Pipeline,
    db: Database,
    settings: Settings,
    request_ids: Mapping[int, str] | None = None,
) -> int:
    """Score the pending comments among ``ids`` in one pass and decide each; returns how many.

    Each decision is logged, and its webhook deliveries written, under the id of the request that
    posted the comment (``request_ids``; without it, the current one). The worker runs it for each
    batch; the API runs it for Coral's external moderation phase."""
    with db.session() as session:
        comments = session.scalars(
            select(Comment)
            .where(Comment.id.in_(ids), Comment.status == Status.PENDING.value)
            .options(joinedload(Comment.author), joinedload(Comment.article), joinedload(Comment.site))
            .order_by(Comment.id)
        ).all()
        lists: dict[int, WordLists] = {}
        bodies, contexts, spoken = [], [], []
        for comment in comments:
            if comment.site_id not in lists:
                lists[comment.site_id] = _compile(moderation.word_lists(session, comment.site_id))
            site = comment.site
            bodies.append(comment.body)
            # Detected here, not when the comment arrives: the API only saves and enqueues.
            spoken.append(language.detect(comment.body, expected=site.language))
            contexts.append(
                CommentContext(
                    posting=Posting(
                        site_id=comment.site_id,
                        comment_id=comment.id,
                        author=comment.author.external_id,
                        article=comment.article.external_id,
                        ip=comment.ip,
                        posted_at=comment.created_at.timestamp(),
                    ),
                    author_comment_count=moderation.earlier_comment_count(session, comment),
                    wordlists=lists[comment.site_id],
                    user_agent=comment.user_agent,
                    permalink=comment.article.url,
                    akismet=(site.akismet_key, site.akismet_blog or "") if site.akismet_key else None,
                    language=spoken[-1] or site.language,
                )
            )
        todo = [c.id for c in comments]
    if not todo:
        return 0
    results = pipeline.score_batch(bodies, contexts)
    with db.session() as session:
        for comment_id, found, detected in zip(todo, results, spoken, strict=True):
            rid = (request_ids or {}).get(comment_id) or logs.request_id.get()
            with logs.bound(rid):
                _decide(session, comment_id, found, settings, detected)
    return len(todo)


def hold_unscored(db: Database, settings: Settings, comment_id: int, why: str) -> bool:
    """Queue a pending comment the pipeline keeps failing on for a person, without scores, saying
    ``why``; False when it was no longer pending."""
    found = [ScorerResult("pipeline", "-", {}, [Reason(ReasonCode.NOT_SCORED, 0.0, why, [])])]
    with db.session() as session:
        return _decide(session, comment_id, found, settings)


def _decide(
    session: Session,
    comment_id: int,
    found: list[ScorerResult],
    settings: Settings,
    spoken: str | None = None,
) -> bool:
    comment = moderation.record_scores(session, comment_id, found, settings, spoken)
    if comment is None:
        return False  # decided already (a second delivery of its message)
    metrics().comments_decided.labels(site=str(comment.site_id), by="auto", status=comment.status).inc()
    metrics().decision_seconds.observe((utcnow() - comment.created_at).total_seconds())
    extra = {"comment_id": comment_id, "site_id": comment.site_id}
    log.info("comment %d %s", comment_id, comment.status, extra=extra)
    return True


def _compile(lists: dict[WordKind, list[str]]) -> WordLists:
    """A site's word lists; an entry the matcher refuses is logged and left out, never a stuck comment."""
    try:
        return WordLists(lists[WordKind.BANNED], lists[WordKind.SUSPECT], lists[WordKind.ALLOWED_DOMAIN])
    except ValueError:
        log.exception("a site's word lists do not compile; scoring without them")
        return WordLists()
