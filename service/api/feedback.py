"""Readers tell the newsroom that commenting itself is broken: ``POST /feedback``."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from service.api.auth import current_site
from service.api.comments import json_body
from service.api.errors import parse
from service.api.openapi import documented
from service.api.responses import FeedbackOut
from service.models import Article, Feedback
from service.schemas import FeedbackIn
from service.web import get_session

bp = Blueprint("feedback", __name__)


@bp.post("/feedback")
@documented(ok=201, answer=FeedbackOut, json=FeedbackIn, tags=["feedback"])
def create():
    """A reader's problem with commenting (``cannot_post``, ``logged_out``, ``comments_missing``,
    ``slow``, ``other``), optionally on an article; editors see these in their reports."""
    site = current_site()
    data = parse(FeedbackIn, json_body())
    session = get_session()
    article = None
    if data.article_id is not None:
        article = session.scalar(
            select(Article).where(Article.site_id == site.id, Article.external_id == data.article_id)
        )
    feedback = Feedback(
        site_id=site.id,
        article_id=article.id if article else None,
        category=data.category.value,
        message=data.message,
        reader_id=data.reader_id,
        user_agent=data.user_agent,
    )
    session.add(feedback)
    session.commit()
    return {
        "id": feedback.id,
        "category": feedback.category,
        "message": feedback.message,
        "article_id": article.external_id if article else None,
        "reader_id": feedback.reader_id,
        "created_at": feedback.created_at.isoformat(),
    }, 201
