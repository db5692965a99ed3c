"""People's judgements of texts (moderator decisions, ``suggestscore`` calls), exported as data to
evaluate and retrain the models against: ``GET /labels``."""

from __future__ import annotations

from flask import Blueprint, request
from pydantic import BaseModel, Field
from sqlalchemy import select

from service.api.articles import MAX_LIMIT, decode_cursor, encode_cursor, page_limit
from service.api.auth import current_site
from service.api.openapi import documented
from service.api.responses import LabelPage
from service.models import Comment, Label
from service.web import get_session

bp = Blueprint("labels", __name__)


class LabelsQuery(BaseModel):
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


@bp.get("/labels")
@documented(answer=LabelPage, query=LabelsQuery, errors=(400,), tags=["labels"])
def index():
    """The site's labels, oldest first, for evaluating and retraining models.

    ``acceptable`` is a moderator's decision (1 approved, 0 rejected; ``text`` is the comment's);
    a Perspective attribute name is a score suggested through ``comments:suggestscore``.
    """
    site = current_site()
    limit = page_limit(100)
    query = (
        select(Label, Comment.body)
        .outerjoin(Comment, Comment.id == Label.comment_id)
        .where(Label.site_id == site.id)
        .order_by(Label.id)
        .limit(limit + 1)
    )
    if cursor := request.args.get("cursor"):
        query = query.where(Label.id > decode_cursor(cursor))
    rows = list(get_session().execute(query))
    page, more = rows[:limit], len(rows) > limit
    return {
        "labels": [
            {
                "id": label.id,
                "comment_id": label.comment_id,
                "text": label.text if label.text is not None else body,
                "attribute": label.attribute,
                "value": label.value,
                "source": label.source,
                "client_token": label.client_token,
                "community_id": label.community_id,
                "created_at": label.created_at.isoformat(),
            }
            for label, body in page
        ],
        "next_cursor": encode_cursor(page[-1][0].id) if more else None,
    }
