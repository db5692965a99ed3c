"""POST a reader's comment; GET its status, scores and decision."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service import moderation
from service.api.auth import current_site
from service.api.errors import APIError, parse
from service.api.serialize import comment_json
from service.db import get_session
from service.models import Comment
from service.queue import enqueue_scoring
from service.schemas import CommentIn

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


@bp.post("/comments")
def create():
    site = current_site()
    data = parse(CommentIn, json_body())
    settings = current_app.config["STET_SETTINGS"]
    body_len = len(data.body)
    if not data.body.strip():
        raise APIError(422, "validation_error", "body: must not be blank", field="body")
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
    try:
        submission = moderation.submit_comment(session, site, data)
        session.commit()
    except IntegrityError:
        # A concurrent retry with the same external_id won the insert.
        session.rollback()
        submission = moderation.Submission(
            session.scalars(
                select(Comment).where(Comment.site_id == site.id, Comment.external_id == data.external_id)
            ).one(),
            created=False,
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
def show(comment_id: int):
    site = current_site()
    comment = get_session().get(Comment, comment_id)
    if comment is None or comment.site_id != site.id:
        raise APIError(404, "not_found", f"no comment {comment_id}", field="id")
    return comment_json(comment)
