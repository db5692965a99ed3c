"""The store: sites, articles, authors, comments, their scores and decisions, and users.

A comment's ``status`` is the one thing the news site asks about:
``pending`` (not scored yet) → ``approved`` | ``rejected`` | ``queued``
(waiting for a person) → ``approved`` | ``rejected``. Every change of status
is a ``Decision`` row saying who made it, when and why.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use service.models.utcnow()")
        return value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Status(enum.StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    APPROVED = "approved"
    REJECTED = "rejected"


class Role(enum.StrEnum):
    MODERATOR = "moderator"
    ADMIN = "admin"


class Site(Base):
    """A news site: it owns its articles, authors and comments, and one or more API keys."""

    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Per-site policy thresholds; NULL means the installation default.
    approve_below: Mapped[float | None] = mapped_column(Float)
    reject_above: Mapped[float | None] = mapped_column(Float)
    spam_queue_above: Mapped[float | None] = mapped_column(Float)
    spam_reject_above: Mapped[float | None] = mapped_column(Float)
    # Optional Akismet check (off unless set): the comment text and reader's IP go to Akismet.
    akismet_key: Mapped[str | None] = mapped_column(String(100))
    akismet_blog: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    keys: Mapped[list[ApiKey]] = relationship(back_populates="site")


class ApiKey(Base):
    """A site's API key, stored as a SHA-256 hash; the key itself is shown once."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    site: Mapped[Site] = relationship(back_populates="keys")


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Author(Base):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("site_id", "external_id"),
        Index("ix_comments_article_status_id", "article_id", "status", "id"),
        Index("ix_comments_status_enqueued", "status", "enqueued_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the comment was last handed to the queue; the sweep re-enqueues stale ones.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    article: Mapped[Article] = relationship()
    author: Mapped[Author] = relationship()
    site: Mapped[Site] = relationship()
    scores: Mapped[list[Score]] = relationship(order_by="Score.id")
    reasons: Mapped[list[Reason]] = relationship(order_by="Reason.id")
    decisions: Mapped[list[Decision]] = relationship(order_by="Decision.id")


class Score(Base):
    """One label's score from one scorer at one model version."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("comment_id", "scorer", "model_version", "label"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    scorer: Mapped[str] = mapped_column(String(50))
    model_version: Mapped[str] = mapped_column(String(100))
    label: Mapped[str] = mapped_column(String(50))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reason(Base):
    """Why a scorer scored a comment as it did: a named signal with its weight and the spans it matched."""

    __tablename__ = "reasons"
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    scorer: Mapped[str] = mapped_column(String(50))
    model_version: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(50), index=True)
    weight: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(500))
    spans: Mapped[list] = mapped_column(JSON, default=list)  # [[start, end], ...] in the comment body


class WordKind(enum.StrEnum):
    BANNED = "banned"  # reject
    SUSPECT = "suspect"  # queue for a person, highlighted
    ALLOWED_DOMAIN = "allowed_domain"  # links here are not a spam signal


class SiteWord(Base):
    """One entry of a site's word lists; ``*`` is a wildcard (``viagr*``, ``*.example.com``)."""

    __tablename__ = "site_words"
    __table_args__ = (UniqueConstraint("site_id", "kind", "pattern"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    pattern: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Decision(Base):
    """A change of a comment's status: by the policy ("auto") or by a moderator."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(16))  # "auto" | "moderator"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User | None] = relationship()


class User(Base):
    """A dashboard account: moderators work the queue, admins also manage the installation."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.MODERATOR.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
