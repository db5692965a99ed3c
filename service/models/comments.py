"""Comments and what is said about them: scores, reasons, decisions, reader reports and
feedback, and the judgement labels kept to evaluate the models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, Status, UTCDateTime, utcnow

if TYPE_CHECKING:
    from service.models.accounts import User
    from service.models.sites import Article, Author, Site


def _mentions_identity(context: Any) -> bool:  # SQLAlchemy's execution context of the INSERT
    """Column default: whether the inserted body names an identity group (the identity monitor)."""
    from service.identity import mentions

    return mentions(context.get_current_parameters().get("body") or "")


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        UniqueConstraint("site_id", "external_id"),
        Index("ix_comments_article_status_id", "article_id", "status", "id"),
        Index("ix_comments_status_enqueued", "status", "enqueued_at"),
        # Queue pages: risk-ordered and age-ordered keyset pagination per status.
        Index("ix_comments_status_risk_id", "status", "risk", "id"),
        Index("ix_comments_status_id", "status", "id"),
        # Reports: everything is bucketed by site and time (the other columns make it covering).
        Index(
            "ix_comments_site_created", "site_id", "created_at", "status", "article_id", "mentions_identity"
        ),
        Index("ix_comments_reported", "reported_at"),
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
    # The highest toxicity-or-spam score, copied here when scored so queues sort by risk on an index.
    risk: Mapped[float | None] = mapped_column(Float)
    # Open reader reports: when the first unresolved one came and their summed weight.
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # An approved comment hidden by reader reports until a moderator looks at it again.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    # The language the worker detected when scoring it (service.language); NULL while pending and
    # when too short to tell.
    language: Mapped[str | None] = mapped_column(String(8))
    # The body names an identity group (set once on insert; bodies are never edited).
    mentions_identity: Mapped[bool] = mapped_column(
        Boolean, default=_mentions_identity, server_default=sa_false()
    )
    # A moderator who opened the comment holds it until claimed_until (others see that).
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    article: Mapped[Article] = relationship()
    author: Mapped[Author] = relationship()
    site: Mapped[Site] = relationship()
    scores: Mapped[list[Score]] = relationship(order_by="Score.id")
    reasons: Mapped[list[Reason]] = relationship(order_by="Reason.id")
    decisions: Mapped[list[Decision]] = relationship(order_by="Decision.id")


class Score(Base):
    """One label's score from one scorer at one model version."""

    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint("comment_id", "scorer", "model_version", "label"),
        # Reports read a comment's scores per label from this index alone.
        Index("ix_scores_comment_label_value", "comment_id", "label", "value"),
        Index("ix_scores_created", "created_at"),  # the report rollup's moves, by when scored
    )
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
    __table_args__ = (
        Index("ix_reasons_comment_code", "comment_id", "code"),  # reports, covering
        Index("ix_reasons_created", "created_at"),  # the report rollup's moves, by when given
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    scorer: Mapped[str] = mapped_column(String(50))
    model_version: Mapped[str] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(50), index=True)
    weight: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(String(500))
    spans: Mapped[list] = mapped_column(JSON, default=list)  # [[start, end], ...] in the comment body
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Decision(Base):
    """A change of a comment's status: by the policy ("auto") or by a moderator."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_created", "created_at"),
        # Reports: a comment's decisions by kind, and a period's moderator decisions (both covering).
        Index("ix_decisions_comment_by", "comment_id", "by", "status"),
        Index(
            "ix_decisions_by_created", "by", "created_at", "comment_id", "user_id", "status", "from_status"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    # The status before this decision (what an undo goes back to); NULL for the first one.
    from_status: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(16))  # "auto" | "moderator"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[User | None] = relationship()


class Report(Base):
    """A reader's flag on a comment; one per reader per comment."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("comment_id", "reporter_id"),
        Index("ix_reports_site_created", "site_id", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id"), index=True)
    reporter_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(2000))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "upheld" (the moderator rejected the comment) or "dismissed" (approved it); NULL while open.
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Feedback(Base):
    """A reader telling the newsroom that commenting itself is broken ("I can't post")."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_site_created", "site_id", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    category: Mapped[str] = mapped_column(String(50))
    message: Mapped[str | None] = mapped_column(Text)
    reader_id: Mapped[str | None] = mapped_column(String(200))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Label(Base):
    """A person's judgement of a text, kept as data to evaluate (and retrain) the models against.

    Written for every moderator decision on a scored comment, and for Perspective-style
    ``suggestscore`` calls (which may carry text that is not a stored comment).
    """

    __tablename__ = "labels"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    comment_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id"), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    attribute: Mapped[str] = mapped_column(String(50))  # "toxicity", "spam", or "acceptable"
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(20))  # "moderator" | "suggestscore"
    # What a suggestscore call said about itself (Perspective's clientToken and communityId).
    client_token: Mapped[str | None] = mapped_column(String(200))
    community_id: Mapped[str | None] = mapped_column(String(200))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
