"""Comments arriving: saved as pending, and what the worker asks about them before scoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from service import language
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
from service.moderation.errors import AuthorBanned, AuthorSuspended, CommentsClosed
from service.schemas import CommentIn

SiteRow = TypeVar("SiteRow", Article, Author)


def _get_or_create(
    session: Session, model: type[SiteRow], site: Site, ext_id: str, **fields: str | None
) -> SiteRow:
    """The site's article or author with this id, created when new and updated with ``fields``.

    A new row is inserted with ON CONFLICT DO NOTHING, in the caller's transaction: a concurrent
    request creating the same one does not abort the transaction, and nothing is committed before
    the comment that needs it (a savepoint on SQLite's driver committed the row on its own)."""
    where = (model.site_id == site.id, model.external_id == ext_id)
    obj = session.scalar(select(model).where(*where))
    if obj is None:
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        values = {"site_id": site.id, "external_id": ext_id, **fields}
        statement = (
            insert(model).values(**values).on_conflict_do_nothing(index_elements=["site_id", "external_id"])
        )
        session.execute(statement)
        return session.scalars(select(model).where(*where)).one()
    for key, value in fields.items():
        if value is not None and getattr(obj, key) != value:
            setattr(obj, key, value)
    return obj


@dataclass
class Submission:
    comment: Comment
    created: bool


def refuse_if_not_allowed(session: Session, site: Site, data: CommentIn) -> None:
    """Raise ``Refused`` for a banned or suspended author or an article closed to comments."""
    author = session.scalar(
        select(Author).where(Author.site_id == site.id, Author.external_id == data.author.id)
    )
    if author is not None and author.banned:
        raise AuthorBanned()
    if author is not None and author.suspended_until is not None and author.suspended_until > utcnow():
        raise AuthorSuspended(author.suspended_until.isoformat(timespec="seconds"))
    article = session.scalar(
        select(Article).where(Article.site_id == site.id, Article.external_id == data.article.id)
    )
    if article is not None and not article.comments_open:
        raise CommentsClosed()


def submit_comment(session: Session, site: Site, data: CommentIn) -> Submission:
    """Save a new pending comment (creating its article and author on first sight).

    With an ``external_id`` the call is idempotent per site: a retry returns the
    comment already saved. The caller commits, then enqueues ``comment.id``. A new comment from a
    banned or suspended author, or on an article closed to comments, is ``Refused``.
    """
    if data.external_id is not None:
        existing = session.scalar(
            select(Comment).where(Comment.site_id == site.id, Comment.external_id == data.external_id)
        )
        if existing is not None:
            return Submission(existing, created=False)
    refuse_if_not_allowed(session, site, data)
    article = _get_or_create(
        session, Article, site, data.article.id, title=data.article.title, url=data.article.url
    )
    author = _get_or_create(session, Author, site, data.author.id, name=data.author.name)
    comment = Comment(
        site_id=site.id,
        article_id=article.id,
        author_id=author.id,
        parent_id=data.parent_id,
        external_id=data.external_id,
        body=data.body,
        language=language.detect(data.body, expected=site.language),
        ip=data.ip,
        user_agent=data.user_agent,
        status=Status.PENDING.value,
        enqueued_at=utcnow(),
    )
    session.add(comment)
    session.flush()
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


def mark_enqueued(session: Session, comment_ids: list[int]) -> None:
    if comment_ids:
        session.execute(update(Comment).where(Comment.id.in_(comment_ids)).values(enqueued_at=utcnow()))
