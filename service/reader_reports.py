"""Readers' reports (flags) on comments: the Reported queue and hiding pending review.

A report puts its comment in the Reported queue (``comment.reported_at``) and adds its weight to
the comment's open ``report_weight``; once an approved comment's weight reaches the site's
``report_hide_weight`` it is hidden until a moderator decides it again (the dashboard resolves
the reports: see ``service.moderation``). One report per reader per comment.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import audit, events
from service.models import Comment, Report, Site, Status, WebhookDelivery, utcnow
from service.schemas import ReportIn


class DuplicateReport(ValueError):
    """This reader already reported this comment."""


@dataclass
class Submitted:
    report: Report
    deliveries: list[WebhookDelivery]


def submit_report(session: Session, site: Site, comment: Comment, data: ReportIn) -> Submitted:
    """Record a reader's report; the caller commits (an IntegrityError there is a duplicate race)."""
    if session.scalar(
        select(Report.id).where(Report.comment_id == comment.id, Report.reporter_id == data.reporter_id)
    ):
        raise DuplicateReport(f"{data.reporter_id!r} already reported comment {comment.id}")
    now = utcnow()
    report = Report(
        site_id=site.id,
        comment_id=comment.id,
        reporter_id=data.reporter_id,
        reason=data.reason.value,
        note=data.note,
        weight=1.0,
        created_at=now,
    )
    session.add(report)
    before = {"reported_at": comment.reported_at is not None, "hidden": comment.hidden}
    if comment.reported_at is None:
        comment.reported_at = now
    comment.report_weight = (comment.report_weight or 0.0) + report.weight
    if comment.status == Status.APPROVED.value and comment.report_weight >= site.report_hide_weight:
        comment.hidden = True
    session.flush()
    audit.record(
        session,
        actor=f"reader:{data.reporter_id}",
        action="comment.reported",
        target_type="comment",
        target_id=comment.id,
        before=before,
        after={"reason": report.reason, "report_weight": comment.report_weight, "hidden": comment.hidden},
        site_id=site.id,
    )
    deliveries = events.comment_event(session, comment, events.COMMENT_REPORTED)
    return Submitted(report, deliveries)
