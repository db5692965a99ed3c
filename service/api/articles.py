"""What a site shows under an article: its comments by status, with cursor pagination."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service.api.auth import current_site
from service.api.errors import APIError
from service.api.serialize import comment_json
from service.db import get_session
from service.models import Article, Comment, Status

bp = Blueprint("articles", __name__)

MAX_LIMIT = 100


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("c"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise APIError(
            400, "invalid_parameter", "cursor: not a cursor returned by this API", field="cursor"
        ) from None


@bp.get("/articles/<path:article_id>/comments")
def comments(article_id: str):
    site = current_site()
    status = request.args.get("status", Status.APPROVED.value)
    if status not in {s.value for s in Status}:
        raise APIError(
            400,
            "invalid_parameter",
            f"status: must be one of {', '.join(s.value for s in Status)}",
            field="status",
        )
    try:
        limit = int(request.args.get("limit", 50))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        raise APIError(
            400, "invalid_parameter", f"limit: a whole number from 1 to {MAX_LIMIT}", field="limit"
        ) from None
    session = get_session()
    article = session.scalar(
        select(Article).where(Article.site_id == site.id, Article.external_id == article_id)
    )
    if article is None:
        raise APIError(404, "not_found", f"no article {article_id!r}", field="article_id")
    query = (
        select(Comment)
        .where(Comment.article_id == article.id, Comment.status == status)
        .options(
            selectinload(Comment.scores),
            selectinload(Comment.reasons),
            selectinload(Comment.decisions),
            selectinload(Comment.author),
        )
        .order_by(Comment.id)
        .limit(limit + 1)
    )
    if cursor := request.args.get("cursor"):
        query = query.where(Comment.id > _decode_cursor(cursor))
    rows = list(session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return {
        "article": {"id": article.external_id, "title": article.title, "url": article.url},
        "comments": [comment_json(c) for c in page],
        "next_cursor": _encode_cursor(page[-1].id) if more else None,
    }
