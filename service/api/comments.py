"""POST a reader's comment; GET its status, scores and decision.

A comment is refused when its article is closed to comments or its author is banned or
suspended; a new one emits ``comment.created`` to the site's webhooks.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service import events, moderation
from service.api import limits
from service.api.auth import current_site
from service.api.errors import APIError, parse
from service.api.openapi import documented
from service.api.responses import CommentOut
from service.api.serialize import comment_json
from service.models import Comment
from service.schemas import CommentIn
from service.web import get_session
from worker.enqueue import enqueue_scoring

bp = Blueprint("comments", __name__)


def json_body() -> object:
    if not request.is_json:
        raise APIError(
            415,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
            field="Content-Type",
        )
    data = request.get_json(silent=True)
    if data is None:
        raise APIError(400, "invalid_json", "request body is not valid JSON")
    return data


# The core's refusals of a new comment, as HTTP statuses.
REFUSED_STATUS = {"author_banned": 403, "author_suspended": 403, "comments_closed": 409}


@bp.post("/comments")
@documented(ok=(200, 202), answer=CommentOut, json=CommentIn, errors=(403, 409), tags=["comments"])
def create():
    """Post a reader's comment; ``202`` pending (a retry with the same ``external_id``: ``200``).

    Refused with ``403`` (``author_banned``, ``author_suspended``) or ``409`` (``comments_closed``,
    or an ``external_id`` reused for other words).
    """
    count = limits.count_new_comment()
    try:  # while Redis counts it: a refusal by the limits comes first, as if asked first
        site = current_site()
        data = parse(CommentIn, json_body())
        settings = current_app.config["STET_SETTINGS"]
        body_len = len(data.body)
        if body_len > settings.max_body_chars:
            raise APIError(
                422,
                "validation_error",
                f"body: at most {settings.max_body_chars} characters, got {body_len}",
                field="body",
            )
        session = get_session()
        if data.parent_id is not None:
            parent = session.get(Comment, data.parent_id)
            if parent is None or parent.site_id != site.id:
                raise APIError(
                    422, "validation_error", f"parent_id: no comment {data.parent_id}", field="parent_id"
                )
    finally:
        count.wait()
    try:
        submission = moderation.submit_comment(session, site, data)
        if submission.created and events.subscribed(session, site.id, events.COMMENT_CREATED):
            events.comment_event(session, submission.comment, events.COMMENT_CREATED)
        session.commit()
    except moderation.Refused as refused:
        session.rollback()
        raise APIError(
            REFUSED_STATUS[refused.code], refused.code, str(refused), field=refused.field
        ) from None
    except IntegrityError:
        # A concurrent retry with the same external_id won the insert.
        session.rollback()
        submission = moderation.Submission.existing(
            session.scalars(
                select(Comment).where(Comment.site_id == site.id, Comment.external_id == data.external_id)
            ).one()
        )
    comment = submission.comment
    if not submission.created and comment.body != data.body:
        raise APIError(
            409,
            "conflict",
            f"external_id: comment {data.external_id!r} was already posted with a different body",
            field="external_id",
        )
    if submission.created:
        enqueue_scoring(current_app.extensions["stet.celery"], [comment.id])
    return comment_json(comment), 202 if submission.created else 200


@bp.get("/comments/<int:comment_id>")
@documented(answer=CommentOut, errors=(404,), tags=["comments"])
def show(comment_id: int):
    """A comment's status, scores per scorer, reasons and latest decision."""
    site = current_site()
    comment = get_session().get(Comment, comment_id)
    if comment is None or comment.site_id != site.id:
        raise APIError(404, "not_found", f"no comment {comment_id}", field="id")
    return comment_json(comment)
