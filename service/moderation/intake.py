"""Comments arriving: saved as pending, and what the worker asks about them before scoring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

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

Row = TypeVar("Row", Article, Author, Comment)

# The hot path runs Core statements on the session's connection and reads plain columns: through the
# ORM the same two statements and their commit cost about twice the CPU on SQLite (measured alone,
# 1.1-1.6 ms against 0.5), most of it building and loading mapped objects the answer does not need.
_AUTHORS, _ARTICLES, _COMMENTS = Author.__table__, Article.__table__, Comment.__table__

# Built once: building a statement costs more than SQLite takes to run it.
# The comment's author and article in one statement, their columns None when new (outer joins).
_PARTIES = (
    select(
        _AUTHORS.c.id.label("author_id"),
        _AUTHORS.c.name.label("author_name"),
        _AUTHORS.c.banned,
        _AUTHORS.c.suspended_until,
        _ARTICLES.c.id.label("article_id"),
        _ARTICLES.c.title,
        _ARTICLES.c.url,
        _ARTICLES.c.comments_open,
    )
    .select_from(Site.__table__)
    .outerjoin(_AUTHORS, (_AUTHORS.c.site_id == Site.id) & (_AUTHORS.c.external_id == bindparam("author")))
    .outerjoin(
        _ARTICLES, (_ARTICLES.c.site_id == Site.id) & (_ARTICLES.c.external_id == bindparam("article"))
    )
    .where(Site.id == bindparam("site_id"))
)


def _upsert_returning_id(table: Any) -> dict[str, Any]:
    """Per dialect: INSERT into ``table`` ON CONFLICT (site, external id) DO NOTHING RETURNING id."""
    return {
        dialect: insert(table)
        .on_conflict_do_nothing(index_elements=["site_id", "external_id"])
        .returning(table.c.id)
        for dialect, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
    }


_INSERT_COMMENT, _INSERT_AUTHOR, _INSERT_ARTICLE = (
    _upsert_returning_id(t) for t in (_COMMENTS, _AUTHORS, _ARTICLES)
)


def _row_id(
    connection: Connection, table: Any, site_id: int, ext_id: str, current_id: int | None, **fields: Any
) -> int:
    """The id of the site's article or author ``ext_id``: inserted (ON CONFLICT DO NOTHING, in the
    caller's transaction, no savepoint) when new, the row a concurrent request inserted first when
    it won; a known one gets the non-empty ``fields`` that differ, or nothing when none does."""
    if current_id is not None:
        changed = {k: v for k, (v, now) in fields.items() if v is not None and v != now}
        if changed:
            connection.execute(update(table).where(table.c.id == current_id).values(**changed))
        return current_id
    values = {"site_id": site_id, "external_id": ext_id, **{k: v for k, (v, _now) in fields.items()}}
    statement = {_AUTHORS: _INSERT_AUTHOR, _ARTICLES: _INSERT_ARTICLE}[table]
    created = connection.execute(statement[connection.dialect.name], values).scalar_one_or_none()
    if created is not None:
        return int(created)
    return int(
        connection.execute(
            select(table.c.id).where(table.c.site_id == site_id, table.c.external_id == ext_id)
        ).scalar_one()
    )


class Submission:
    """A posted comment: ``created`` when this call saved it, not when it was saved before (a retry).

    A new comment's mapped object is built on first use of ``comment``: in the API that is after the
    commit, since building it inside the transaction kept SQLite's write lock 0.3 ms longer per
    comment (``benchmarks/ingest.py``)."""

    def __init__(
        self, created: bool, comment: Comment | None = None, build: Callable[[], Comment] | None = None
    ):
        self.created, self._comment, self._build = created, comment, build

    @classmethod
    def existing(cls, comment: Comment) -> Submission:
        return cls(False, comment)

    @property
    def comment(self) -> Comment:
        if self._comment is None:
            assert self._build is not None
            self._comment, self._build = self._build(), None
        return self._comment


def refusal(parties: Any) -> Refused | None:
    """Why a new comment is refused: a banned or suspended author, an article closed to comments
    (``parties``: a row of ``_PARTIES``, whose author and article columns are None when new)."""
    if parties.banned:
        return AuthorBanned()
    if parties.suspended_until is not None and parties.suspended_until > utcnow():
        return AuthorSuspended(parties.suspended_until.isoformat(timespec="seconds"))
    if parties.article_id is not None and not parties.comments_open:
        return CommentsClosed()
    return None


def _existing(session: Session, site: Site, external_id: str) -> Comment:
    return session.scalars(
        select(Comment).where(Comment.site_id == site.id, Comment.external_id == external_id)
    ).one()


def _detached(model: type[Row], **values: Any) -> Row:
    """A mapped object for a row just written, holding what was written (no query to load it back);
    detached until added to a session, where it is persistent, not new."""
    instance = model(**values)
    make_transient_to_detached(instance)
    return instance


def submit_comment(session: Session, site: Site, data: CommentIn) -> Submission:
    """Save a new pending comment (creating its article and author on first sight).

    With an ``external_id`` the call is idempotent per site: a retry returns the comment already
    saved (the unique key decides, so two concurrent retries save one). The caller commits, then
    enqueues ``comment.id``. A new comment from a banned or suspended author, or on an article
    closed to comments, is ``Refused``.

    A comment by a known author on a known article costs two statements (author and article in one,
    the insert, which returns the id). A new comment (``Submission.comment``, built when first read) is
    made from what was written and put in the session as the persistent row it is: its article and
    author carry their ids and external ids, it has no scores, reasons or decisions yet, and any
    other attribute is loaded when first read.
    """
    connection = session.connection()  # Core statements: the ORM's execution adds nothing to them
    parties = connection.execute(
        _PARTIES, {"site_id": site.id, "author": data.author.id, "article": data.article.id}
    ).one()
    refused = refusal(parties)
    if refused is not None:
        if data.external_id is not None:  # a retry of a comment saved before the refusal
            existing = session.scalar(
                select(Comment).where(Comment.site_id == site.id, Comment.external_id == data.external_id)
            )
            if existing is not None:
                return Submission.existing(existing)
        raise refused
    article_id = _row_id(
        connection,
        _ARTICLES,
        site.id,
        data.article.id,
        parties.article_id,
        title=(data.article.title, parties.title),
        url=(data.article.url, parties.url),
    )
    author_id = _row_id(
        connection,
        _AUTHORS,
        site.id,
        data.author.id,
        parties.author_id,
        name=(data.author.name, parties.author_name),
    )
    now = utcnow()
    values = {
        "site_id": site.id,
        "article_id": article_id,
        "author_id": author_id,
        "parent_id": data.parent_id,
        "external_id": data.external_id,
        "body": data.body,
        "language": None,  # the worker detects it with the scorers (service.language)
        "ip": data.ip,
        "user_agent": data.user_agent,
        "status": Status.PENDING.value,
        "created_at": now,
        "enqueued_at": now,
        "hidden": False,
    }
    comment_id = connection.execute(_INSERT_COMMENT[connection.dialect.name], values).scalar_one_or_none()
    if comment_id is None:  # its external_id was saved before: this is a retry
        return Submission.existing(_existing(session, site, data.external_id or ""))
    metrics().comments_received.labels(site=str(site.id)).inc()

    def build() -> Comment:
        comment = _detached(Comment, id=comment_id, **values)
        for name, value in (
            ("article", _detached(Article, id=article_id, site_id=site.id, external_id=data.article.id)),
            ("author", _detached(Author, id=author_id, site_id=site.id, external_id=data.author.id)),
            ("scores", []),
            ("reasons", []),
            ("decisions", []),
        ):
            set_committed_value(comment, name, value)
        session.add(comment)  # in the session as the row it is (no INSERT); with it its article and author
        return comment

    return Submission(True, build=build)


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
