"""Articles: which stories drew the most comments, the most rejections and the most reader reports.

A rejection rate needs at least ``MIN_DECIDED`` decided comments, so one rejected comment of one
does not top the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.models import Article, Comment, Status
from service.models import Report as ReaderReport
from service.reporting.result import Chart, EditorReport, Table, share
from service.reporting.scope import Scope

TOP = 10
MIN_DECIDED = 10
COLUMNS = [
    "Article",
    "Section",
    "Comments",
    "Approved",
    "Rejected",
    "Rejection rate",
    "Reader reports",
    "URL",
]


def build(session: Session, scope: Scope) -> EditorReport:
    status_count = lambda status: func.sum(case((Comment.status == status, 1), else_=0))  # noqa: E731
    # A section's articles are kept here, not in SQL: filtered by article, SQLite would read every
    # comment of the section through its row instead of the period's range of the covering index.
    whole = scope if scope.article is not None else Scope(scope.site, scope.period, scope.settings)
    per_article = whole.during(
        whole.comments(
            select(
                Comment.article_id,
                func.count(),
                status_count(Status.APPROVED.value),
                status_count(Status.REJECTED.value),
            )
        ),
        Comment.created_at,
    ).group_by(Comment.article_id)
    keep = None
    if scope.section is not None and scope.article is None:
        keep = set(
            session.scalars(
                select(Article.id).where(Article.site_id == scope.site.id, Article.section == scope.section)
            )
        )
    counts = {
        article_id: [total, int(approved or 0), int(rejected or 0)]
        for article_id, total, approved, rejected in session.execute(per_article)
        if keep is None or article_id in keep
    }
    reported = dict(
        session.execute(
            scope.during(
                scope.articles(
                    select(Comment.article_id, func.count())
                    .select_from(ReaderReport)
                    .join(Comment, Comment.id == ReaderReport.comment_id)
                    .where(ReaderReport.site_id == scope.site.id),
                    Comment.article_id,
                ),
                ReaderReport.created_at,
            ).group_by(Comment.article_id)
        ).all()
    )
    ids = set(counts) | set(reported)
    rows = []
    for article_id in ids:
        total, approved, rejected = counts.get(article_id, [0, 0, 0])
        rate = share(rejected, approved + rejected) if approved + rejected >= MIN_DECIDED else None
        rows.append([article_id, total, approved, rejected, rate, reported.get(article_id, 0)])

    tables = []
    for key, name, title, include in (
        (1, "most_commented", "Most commented", lambda r: r[1] > 0),
        (
            4,
            "rejection_rate",
            f"Highest rejection rate (at least {MIN_DECIDED} decided)",
            lambda r: r[4] is not None,
        ),
        (5, "most_reported", "Most reported by readers", lambda r: r[5] > 0),
    ):
        chosen = _top(filter(include, rows), key)
        table = Table(name, title, COLUMNS, [], links={"Article": "URL"}, percent=("Rejection rate",))
        tables.append((table, chosen))
    wanted = {row[0] for _table, chosen in tables for row in chosen}
    info = {
        article_id: (title or external_id, section or "", url)
        for article_id, title, external_id, section, url in session.execute(
            select(Article.id, Article.title, Article.external_id, Article.section, Article.url).where(
                Article.id.in_(wanted)
            )
        )
    }
    for table, chosen in tables:
        for article_id, *numbers in chosen:
            title, section, url = info[article_id]
            table.rows.append([title, section, *numbers, url])
    return EditorReport(
        "articles",
        "Articles",
        figures={"Articles with comments": sum(1 for r in rows if r[1]), "Articles reported": len(reported)},
        tables=[table for table, _chosen in tables],
        charts=[Chart("Most commented", "bar", "most_commented", "Article", ["Comments", "Rejected"])],
    )


def _top(rows: Iterable[list[Any]], key: int) -> list[list[Any]]:
    """The ``TOP`` rows highest in column ``key`` (ties: the lowest article id first)."""
    return sorted(rows, key=lambda r: (-r[key], r[0]))[:TOP]
