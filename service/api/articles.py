"""Articles: their settings (open or closed, pre-moderation, thresholds) and what a site shows under
them: the comments by status, with cursor pagination."""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, current_app, request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from service import audit, moderation, policy
from service.api.auth import current_site
from service.api.comments import json_body
from service.api.errors import APIError, parse
from service.api.openapi import documented
from service.api.responses import ArticleOut, CommentPage
from service.api.serialize import article_json, comment_json
from service.models import Article, Comment, Status, utcnow
from service.schemas import MAX_ID, ArticleSettingsIn, readable_article_id
from service.web import get_session

bp = Blueprint("articles", __name__)

MAX_LIMIT = 100


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def page_limit(default: int) -> int:
    """The ``limit`` query parameter of a listing: 1 to ``MAX_LIMIT``, else a 400 naming it."""
    try:
        limit = int(request.args.get("limit", default))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        raise APIError(
            400, "invalid_parameter", f"limit: a whole number from 1 to {MAX_LIMIT}", field="limit"
        ) from None
    return limit


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("c"):
            raise ValueError
        last_id = int(raw[1:])
        if not 0 <= last_id <= MAX_ID:
            raise ValueError
        return last_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise APIError(
            400, "invalid_parameter", "cursor: not a cursor returned by this API", field="cursor"
        ) from None


class CommentsQuery(BaseModel):
    status: Status = Status.APPROVED
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


@bp.get("/articles/<path:article_id>/comments")
@documented(answer=CommentPage, query=CommentsQuery, errors=(400, 404), tags=["articles"])
def comments(article_id: str):
    """The comments under an article, oldest first (approved ones unless ``status`` says otherwise).

    A comment with ``hidden: true`` was hidden by reader reports until a moderator looks at it:
    do not show it.
    """
    site = current_site()
    status = request.args.get("status", Status.APPROVED.value)
    if status not in {s.value for s in Status}:
        raise APIError(
            400,
            "invalid_parameter",
            f"status: must be one of {', '.join(s.value for s in Status)}",
            field="status",
        )
    limit = page_limit(50)
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
        query = query.where(Comment.id > decode_cursor(cursor))
    rows = list(session.scalars(query))
    page, more = rows[:limit], len(rows) > limit
    return {
        "article": {"id": article.external_id, "title": article.title, "url": article.url},
        "comments": [comment_json(c) for c in page],
        "next_cursor": encode_cursor(page[-1].id) if more else None,
    }


def _find(site_id: int, article_id: str) -> Article | None:
    return get_session().scalar(
        select(Article).where(Article.site_id == site_id, Article.external_id == article_id)
    )


@bp.get("/articles/<path:article_id>")
@documented(answer=ArticleOut, errors=(404,), tags=["articles"])
def show(article_id: str):
    """An article's settings."""
    article = _find(current_site().id, article_id)
    if article is None:
        raise APIError(404, "not_found", f"no article {article_id!r}", field="article_id")
    return article_json(article)


@bp.put("/articles/<path:article_id>")
@documented(ok=(200, 201), answer=ArticleOut, json=ArticleSettingsIn, errors=(404,), tags=["articles"])
def update(article_id: str):
    """Register or update an article: title, URL, section, comments open or closed, pre-moderation
    (``off``, ``all``, ``links``, ``new_authors``) and a thresholds override (``null`` clears it).
    Fields left out keep their value."""
    site = current_site()
    data = parse(ArticleSettingsIn, json_body())
    if not 1 <= len(article_id) <= 200 or "\x00" in article_id:
        raise APIError(422, "validation_error", "article_id: 1 to 200 characters", field="article_id")
    try:
        readable_article_id(article_id)
    except ValueError as exc:
        raise APIError(422, "validation_error", f"article_id: {exc}", field="article_id") from None
    session = get_session()
    article = _find(site.id, article_id)
    before = None if article is None else article_json(article)
    if article is None:
        article = Article(site_id=site.id, external_id=article_id)
        session.add(article)
    for name in ("title", "url", "section", "comments_open"):
        if name in data.model_fields_set and getattr(data, name) is not None:
            setattr(article, name, getattr(data, name))
    if data.premoderation is not None:
        article.premoderation = data.premoderation.value
    if "thresholds" in data.model_fields_set:
        limits = data.thresholds
        article.approve_below = limits.approve_below if limits else None
        article.reject_above = limits.reject_above if limits else None
        article.attribute_thresholds = limits.attribute_rules() if limits else None
        if limits and limits.attributes:
            beneath = moderation.thresholds_for(site, current_app.config["STET_SETTINGS"]).attributes
            try:
                policy.merge_rules(beneath, article.attribute_thresholds)
            except ValueError as exc:
                raise APIError(
                    422, "validation_error", f"thresholds.attributes: {exc}", field="thresholds.attributes"
                ) from None
    article.updated_at = utcnow()
    session.flush()
    after = article_json(article)
    if after != before:
        audit.record(
            session,
            actor=f"api:{site.name}",
            action="article.updated" if before else "article.created",
            target_type="article",
            target_id=article_id,
            before=before,
            after=after,
            site_id=site.id,
        )
    session.commit()
    return after, 200 if before else 201
