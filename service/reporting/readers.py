"""Readers: their reports on comments (by reason, and how often a moderator agreed) and their
problems with commenting itself (feedback by category and article, newest first)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.models import Article, Comment, Feedback, ReportReason
from service.models import Report as ReaderReport
from service.reporting.result import Chart, EditorReport, Table, share
from service.reporting.scope import Scope

NEWEST = 20
TOP_ARTICLES = 10


def build(session: Session, scope: Scope) -> EditorReport:
    resolved = lambda value: func.sum(case((ReaderReport.resolution == value, 1), else_=0))  # noqa: E731
    by_reason = {
        reason: (count, int(upheld or 0), int(dismissed or 0))
        for reason, count, upheld, dismissed in session.execute(
            scope.during(
                scope.articles(
                    select(ReaderReport.reason, func.count(), resolved("upheld"), resolved("dismissed"))
                    .join(Comment, Comment.id == ReaderReport.comment_id)
                    .where(ReaderReport.site_id == scope.site.id),
                    Comment.article_id,
                ),
                ReaderReport.created_at,
            ).group_by(ReaderReport.reason)
        )
    }
    order = [reason.value for reason in ReportReason] + sorted(set(by_reason) - set(ReportReason))
    reports = Table(
        "reports",
        "Reader reports by reason",
        ["Reason", "Reports", "Upheld", "Dismissed", "Open", "Share upheld"],
        [
            [reason, count, upheld, dismissed, count - upheld - dismissed, share(upheld, upheld + dismissed)]
            for reason in order
            for count, upheld, dismissed in [by_reason.get(reason, (0, 0, 0))]
        ],
        percent=("Share upheld",),
    )
    feedback = scope.during(
        scope.articles(
            select().select_from(Feedback).where(Feedback.site_id == scope.site.id), Feedback.article_id
        ),
        Feedback.created_at,
    )
    per_category = session.execute(
        feedback.add_columns(Feedback.category, func.count())
        .group_by(Feedback.category)
        .order_by(func.count().desc(), Feedback.category)
    ).all()
    categories = Table(
        "problems",
        "Readers' problems with commenting, by category",
        ["Category", "Reports"],
        [list(row) for row in per_category],
    )
    per_article = Table(
        "problem_articles",
        "Articles with the most problems reported",
        ["Article", "Reports", "URL"],
        [
            [title or external_id, count, url]
            for title, external_id, url, count in session.execute(
                feedback.add_columns(Article.title, Article.external_id, Article.url, func.count())
                .join(Article, Article.id == Feedback.article_id)
                .group_by(Article.id, Article.title, Article.external_id, Article.url)
                .order_by(func.count().desc(), Article.id)
                .limit(TOP_ARTICLES)
            )
        ],
        links={"Article": "URL"},
    )
    newest = Table(
        "problems_newest",
        "Newest problems",
        ["When", "Category", "Article", "Message", "URL"],
        [
            [
                created.astimezone(UTC).astimezone(scope.period.zone).strftime("%Y-%m-%d %H:%M %Z"),
                category,
                title or external_id or "",
                message or "",
                url,
            ]
            for created, category, title, external_id, message, url in session.execute(
                feedback.add_columns(
                    Feedback.created_at,
                    Feedback.category,
                    Article.title,
                    Article.external_id,
                    Feedback.message,
                    Article.url,
                )
                .outerjoin(Article, Article.id == Feedback.article_id)
                .order_by(Feedback.created_at.desc(), Feedback.id.desc())
                .limit(NEWEST)
            )
        ],
        links={"Article": "URL"},
    )
    total = sum(count for count, _up, _down in by_reason.values())
    upheld = sum(up for _count, up, _down in by_reason.values())
    decided = upheld + sum(down for _count, _up, down in by_reason.values())
    return EditorReport(
        "readers",
        "Readers",
        figures={
            "Reader reports": total,
            "Share upheld": share(upheld, decided),
            "Problems reported": sum(count for _category, count in per_category),
        },
        tables=[reports, categories, per_article, newest],
        charts=[
            Chart("Reader reports by reason", "bar", "reports", "Reason", ["Upheld", "Dismissed", "Open"]),
            Chart("Problems by category", "bar", "problems", "Category", ["Reports"]),
        ],
    )
