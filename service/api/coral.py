"""Coral's external moderation phase: Coral asks Stet about each new or edited comment.

Coral (``EXTERNAL_MODERATION_PHASES.md`` in coralproject/talk) POSTs each comment no earlier phase
decided, as ``JSON.stringify(request, null, 2)``, signed ``X-Coral-Signature: sha256=<hex>`` (one
per active signing secret, comma-separated; HMAC-SHA256 of the raw body, no timestamp), and waits
for the phase's timeout. Stet stores the comment (so it is in Stet's queue, reports and webhooks),
runs its whole judgement (word lists, spam, the models, the thresholds, languages) and answers
within ``STET_CORAL_BUDGET`` seconds:

* ``APPROVED``; ``REJECTED`` with a ``FLAG`` (toxic or spam); or ``PREMOD`` ("a person decides",
  with a ``FLAG`` when a model or a word list is why), which puts it in Coral's pre-moderation queue;
* ``204`` (no opinion) for the newsroom's own staff, and when deciding takes longer than the budget:
  Stet still decides the comment for its own queue, Coral carries on without it.

Coral sends no comment id, so a comment is stored under a hash of what Coral sent: the same
request twice is one comment in Stet and gets the same answer.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Timeout
from threading import Lock
from typing import Any

import redis
from flask import Blueprint, Flask, current_app, g, request
from pydantic import BaseModel, ConfigDict, StrictStr
from sqlalchemy import select

from service import moderation, policy
from service.accounts import site_for_key
from service.api.errors import APIError, parse
from service.models import Comment, Site, Status
from service.reasons import ReasonCode
from service.schemas import CommentIn
from service.web import get_session
from worker.enqueue import enqueue_scoring

bp = Blueprint("coral", __name__)
STAFF = frozenset({"STAFF", "MODERATOR", "ADMIN"})
TOXIC = "COMMENT_DETECTED_TOXIC"
SPAM = "COMMENT_DETECTED_SPAM"
# Why a comment was held or rejected, as the flag Coral shows its moderators (none: no flag).
FLAGS = {
    **dict.fromkeys(policy.DANGEROUS, TOXIC),
    "toxic": TOXIC,
    ReasonCode.BANNED_WORD: TOXIC,
    ReasonCode.SUSPECT_WORD: TOXIC,
    "spam": SPAM,
}
_lock = Lock()


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CoralComment(_Loose):
    body: StrictStr
    parentID: StrictStr | None = None


class CoralAuthor(_Loose):
    id: StrictStr
    role: StrictStr = "COMMENTER"


class CoralStory(_Loose):
    id: StrictStr
    url: StrictStr | None = None


class CoralSite(_Loose):
    id: StrictStr


class ExternalModerationRequest(_Loose):
    action: StrictStr = "NEW"
    comment: CoralComment
    author: CoralAuthor
    story: CoralStory
    site: CoralSite | None = None
    tenantID: StrictStr | None = None
    tenantDomain: StrictStr | None = None


def signed_by(secret: str, header: str, body: bytes) -> bool:
    """Whether one of the header's ``sha256=<hex>`` values is ``body``'s HMAC-SHA256 by ``secret``."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    given = [
        part.strip().removeprefix("sha256=")
        for part in header.split(",")
        if part.strip().startswith("sha256=")
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in given)


def _site() -> Site:
    key = request.args.get("key", "")
    site = site_for_key(get_session(), key) if key else None
    if site is None:
        raise APIError(
            401, "unauthorized", "invalid or missing site key: append ?key=<site key>", field="key"
        )
    if not site.coral_secret:
        raise APIError(
            403,
            "coral_not_configured",
            "this site has no Coral signing secret: stet site coral SITE --secret <Coral's secret>",
            field="key",
        )
    if not signed_by(site.coral_secret, request.headers.get("X-Coral-Signature", ""), request.get_data()):
        raise APIError(401, "bad_signature", "X-Coral-Signature does not match the site's Coral secret")
    g.site = site  # the access log names the site
    return site


def _pipeline(app: Flask) -> Any:
    """The worker's scoring pipeline, built once per API process (the scorer is preloaded)."""
    with _lock:
        if "stet.pipeline" not in app.extensions:
            from worker.pipeline import Pipeline

            settings = app.config["STET_SETTINGS"]
            client = redis.Redis.from_url(app.config["RATELIMIT_STORAGE_URI"], socket_timeout=2)
            app.extensions["stet.pipeline"] = Pipeline(settings, client)
            app.extensions["stet.coral_pool"] = ThreadPoolExecutor(2, thread_name_prefix="coral")
        return app.extensions["stet.pipeline"]


def _external_id(raw: bytes) -> str:
    """Coral sends no comment id: the same request (same body, author, story) is the same comment."""
    return "coral:" + hashlib.sha256(raw).hexdigest()[:40]


def _answer(comment: Comment) -> tuple[dict[str, Any], int] | tuple[str, int]:
    """Coral's response for a comment Stet decided (a person deciding is ``PREMOD``)."""
    last = comment.decisions[-1] if comment.decisions else None
    category = (last.details or {}).get("category") if last is not None else None
    if comment.status == Status.PENDING.value:
        return "", 204
    status = {Status.APPROVED.value: "APPROVED", Status.REJECTED.value: "REJECTED"}.get(
        comment.status, "PREMOD"
    )
    answer: dict[str, Any] = {"status": status}
    flag = FLAGS.get(category or "")
    if flag and status != "APPROVED":
        answer["actions"] = [{"actionType": "FLAG", "reason": flag}]
    return answer, 200


@bp.post("/coral/moderation")
def moderate():
    """Coral's external moderation phase: Stet's decision on one comment, within the budget."""
    site = _site()
    raw = request.get_data()
    data = parse(ExternalModerationRequest, request.get_json(silent=True))
    if data.author.role.upper() in STAFF:
        return "", 204  # the newsroom's own people: no opinion
    session = get_session()
    comment_in = CommentIn.model_validate(
        {
            "article": {"id": data.story.id[:200], "url": data.story.url},
            "author": {"id": data.author.id[:200]},
            "body": data.comment.body,
            "external_id": _external_id(raw),
        }
    )
    try:
        submission = moderation.submit_comment(session, site, comment_in)
        session.commit()
    except moderation.Refused:  # a banned or suspended author, a closed article
        session.rollback()
        return {"status": "REJECTED"}
    comment = submission.comment
    if comment.status == Status.PENDING.value:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        pipeline = _pipeline(app)
        settings = app.config["STET_SETTINGS"]
        database = app.extensions["stet.db"]
        from worker.pipeline import decide_pending

        future = app.extensions["stet.coral_pool"].submit(  # in this request's context: its id
            contextvars.copy_context().run, decide_pending, [comment.id], pipeline, database, settings
        )
        try:
            future.result(timeout=settings.coral_budget)
        except Timeout:  # Stet still decides it for its own queue; Coral goes on without an opinion
            return "", 204
        except Exception:  # noqa: BLE001 - the worker decides it; Coral must not wait on our failure
            current_app.logger.exception("Coral moderation of comment %d failed", comment.id)
            enqueue_scoring(app.extensions["stet.celery"], [comment.id])
            return "", 204
        session.expire_all()
        comment = session.scalars(select(Comment).where(Comment.id == comment.id)).one()
    return _answer(comment)
