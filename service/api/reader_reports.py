"""Readers report a comment: ``POST /comments/<id>/reports``."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy.exc import IntegrityError

from service.api.auth import current_site
from service.api.comments import json_body
from service.api.errors import APIError, parse
from service.api.openapi import documented
from service.api.responses import ReportOut
from service.models import Comment
from service.reader_reports import DuplicateReport, submit_report
from service.schemas import ReportIn
from service.web import get_session

bp = Blueprint("reader_reports", __name__)


@bp.post("/comments/<int:comment_id>/reports")
@documented(ok=201, answer=ReportOut, json=ReportIn, errors=(404, 409), tags=["reader reports"])
def create(comment_id: int):
    """A reader reports a comment (``offensive``, ``abusive``, ``spam``, ``off_topic``, ``other``).

    One report per reader per comment (``409`` for a second). Reports put the comment in the
    moderators' Reported queue; enough of them hide an approved comment (``comment_hidden``)
    until a moderator looks at it.
    """
    site = current_site()
    data = parse(ReportIn, json_body())
    session = get_session()
    comment = session.get(Comment, comment_id)
    if comment is None or comment.site_id != site.id:
        raise APIError(404, "not_found", f"no comment {comment_id}", field="comment_id")
    duplicate = APIError(
        409, "duplicate_report", "this reader already reported this comment", field="reporter_id"
    )
    try:
        submitted = submit_report(session, site, comment, data)
        session.commit()
    except DuplicateReport:
        raise duplicate from None
    except IntegrityError:  # the same reader's concurrent report won
        session.rollback()
        raise duplicate from None
    report = submitted.report
    return {
        "id": report.id,
        "comment_id": comment.id,
        "reporter_id": report.reporter_id,
        "reason": report.reason,
        "note": report.note,
        "created_at": report.created_at.isoformat(),
        "comment_hidden": comment.hidden,
    }, 201
