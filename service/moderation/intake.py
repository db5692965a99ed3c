"""Comments arriving: saved as pending, and what the worker asks about them before scoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service import language
from service.metrics import metrics
from service.models import (
    Article,
    Author,
    Comment,
    Site,
    SiteWord,
    Status,
    WordKind,
    utcnow,
)
from service.moderation.errors import AuthorBanned, AuthorSuspended, CommentsClosed, Refused
from service.schemas import CommentIn

SiteRow = TypeVar("SiteRow", Article, Author)


def _insert(session: Session) -> Any:
    """The dialect's INSERT, for ON CONFLICT."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# Built once: building a statement costs more than SQLite takes to run it (benchmarks/ingest.py).
# The comment's author and article in one statement, each None when new (outer joins from the site).
_PARTIES: Select[Author, Article] = (
    select(Author, Article)
    .select_from(Site)
    .outerjoin(Author, (Author.site_id == Site.id) & (Author.external_id == bindparam("author")))
    .outerjoin(Article, (Article.site_id == Site.id) & (Article.external_id == bindparam("article")))
    .where(Site.id == bindparam("site_id"))
)


_INSERT_COMMENT = {
    dialect: insert(Comment)
    .on_conflict_do_nothing(index_elements=["site_id", "external_id"])
    .returning(Comment)
    for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


def _create(session: Session, model: type[SiteRow], site: Site, ext_id: str, **fields: str | None) -> SiteRow:
    """A new article or author, inserted with ON CONFLICT DO NOTHING in the caller's transaction
    (no savepoint: on SQLite's driver one committed the row on its own, before its comment); the
    row a concurrent request inserted first when it won."""
    values = {"site_id": site.id, "external_id": ext_id, **fields}
    statement = (
        _insert(session)(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["site_id", "external_id"])
        .returning(model)
    )
    created = session.scalars(statement).one_or_none()
    return (
        created
        if created is not None
        else session.scalars(select(model).where(model.site_id == site.id, model.external_id == ext_id)).one()
    )


def _update(row: Article | Author, **fields: str | None) -> None:
    for key, value in fields.items():
        if value is not None and getattr(row, key) != value:
            setattr(row, key, value)


@dataclass
class Submission:
    comment: Comment
    created: bool


def refusal(author: Author | None, article: Article | None) -> Refused | None:
    """Why a new comment is refused: a banned or suspended author, an article closed to comments."""
    if author is not None and author.banned:
        return AuthorBanned()
    if author is not None and author.suspended_until is not None and author.suspended_until > utcnow():
        return AuthorSuspended(author.suspended_until.isoformat(timespec="seconds"))
    if article is not None and not article.comments_open:
        return CommentsClosed()
    return None


def _existing(session: Session, site: Site, external_id: str) -> Comment:
    return session.scalars(
        select(Comment).where(Comment.site_id == site.id, Comment.external_id == external_id)
    ).one()


def submit_comment(session: Session, site: Site, data: CommentIn) -> Submission:
    """Save a new pending comment (creating its article and author on first sight).

    With an ``external_id`` the call is idempotent per site: a retry returns the comment already
    saved (the unique key decides, so two concurrent retries save one). The caller commits, then
    enqueues ``comment.id``. A new comment from a banned or suspended author, or on an article
    closed to comments, is ``Refused``.

    A comment by a known author on a known article costs two statements (author and article in one,
    the insert, which returns the row): nothing is read twice and nothing is loaded after it.
    """
    parties = {"site_id": site.id, "author": data.author.id, "article": data.article.id}
    author, article = session.execute(_PARTIES, parties).one()
    refused = refusal(author, article)
    if refused is not None:
        if data.external_id is not None:  # a retry of a comment saved before the refusal
            existing = session.scalar(
                select(Comment).where(Comment.site_id == site.id, Comment.external_id == data.external_id)
            )
            if existing is not None:
                return Submission(existing, created=False)
        raise refused
    fields = {"title": data.article.title, "url": data.article.url}
    if article is None:
        article = _create(session, Article, site, data.article.id, **fields)
    else:
        _update(article, **fields)
    if author is None:
        author = _create(session, Author, site, data.author.id, name=data.author.name)
    else:
        _update(author, name=data.author.name)
    values = {
        "site_id": site.id,
        "article_id": article.id,
        "author_id": author.id,
        "parent_id": data.parent_id,
        "external_id": data.external_id,
        "body": data.body,
        "language": language.detect(data.body, expected=site.language),
        "ip": data.ip,
        "user_agent": data.user_agent,
        "status": Status.PENDING.value,
        "enqueued_at": utcnow(),
    }
    comment = session.scalars(_INSERT_COMMENT[session.get_bind().dialect.name], values).one_or_none()
    if comment is None:  # its external_id was saved before: this is a retry
        return Submission(_existing(session, site, data.external_id or ""), created=False)
    # What the answer and the webhook event read, known without loading: no query after the insert.
    metrics().comments_received.labels(site=str(site.id)).inc()
    for name, value in (
        ("article", article),
        ("author", author),
        ("scores", []),
        ("reasons", []),
        ("decisions", []),
    ):
        set_committed_value(comment, name, value)
    return Submission(comment, created=True)


def word_lists(session: Session, site_id: int) -> dict[WordKind, list[str]]:
    """A site's banned, suspect and allowed-domain entries."""
    lists: dict[WordKind, list[str]] = {kind: [] for kind in WordKind}
    for kind, pattern in session.execute(
        select(SiteWord.kind, SiteWord.pattern).where(SiteWord.site_id == site_id).order_by(SiteWord.id)
    ):
        lists[WordKind(kind)].append(pattern)
    return lists


def earlier_comment_count(session: Session, comment: Comment) -> int:
    """How many comments the author posted on this site before ``comment``."""
    return (
        session.scalar(
            select(func.count()).where(Comment.author_id == comment.author_id, Comment.id < comment.id)
        )
        or 0
    )


def stale_pending(session: Session, older_than: timedelta, limit: int = 1000) -> list[int]:
    """Ids of comments still pending whose last enqueue is older than ``older_than``."""
    cutoff: datetime = utcnow() - older_than
    return list(
        session.scalars(
            select(Comment.id)
            .where(Comment.status == Status.PENDING.value, Comment.enqueued_at < cutoff)
            .order_by(Comment.id)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Waiting:
    """Comments of one site in one waiting status (pending: for the worker; queued: for a person)."""

    site_id: int
    status: str
    count: int
    oldest: datetime


def waiting(session: Session) -> list[Waiting]:
    """How many comments wait per site and status, and since when the oldest does: one grouped query
    over the pending and queued comments only (ix_comments_status_id), cheap enough to run on every
    scrape of /metrics."""
    rows = session.execute(
        select(Comment.site_id, Comment.status, func.count(), func.min(Comment.created_at))
        .where(Comment.status.in_([Status.PENDING.value, Status.QUEUED.value]))
        .group_by(Comment.site_id, Comment.status)
    )
    return [Waiting(site_id, status, count, oldest) for site_id, status, count, oldest in rows]


def mark_enqueued(session: Session, comment_ids: list[int]) -> None:
    if comment_ids:
        session.execute(update(Comment).where(Comment.id.in_(comment_ids)).values(enqueued_at=utcnow()))
