"""The store: sites, articles, authors, comments, their scores and decisions, and users.

A comment's ``status`` is the one thing the news site asks about:
``pending`` (not scored yet) → ``approved`` | ``rejected`` | ``queued``
(waiting for a person) → ``approved`` | ``rejected``. Every change of status
is a ``Decision`` row saying who made it, when and why.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
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
    MODERATOR = "moderator"  # works the queues
    ADMIN = "admin"  # also manages users, sites, keys, thresholds, word lists and webhooks
    EDITOR = "editor"  # reads reports only


class Premoderation(enum.StrEnum):
    """Which comments on an article wait for a person whatever their scores."""

    OFF = "off"
    ALL = "all"
    LINKS = "links"
    NEW_AUTHORS = "new_authors"


class ErasureMode(enum.StrEnum):
    """What erasing an author does to their comments."""

    ANONYMISE = "anonymise"  # keep the text, drop the author, IP and user agent
    REMOVE = "remove"  # delete the comments too


class ReportReason(enum.StrEnum):
    OFFENSIVE = "offensive"
    ABUSIVE = "abusive"
    SPAM = "spam"
    OFF_TOPIC = "off_topic"
    OTHER = "other"


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
    # Dangerous attributes' rules, {"threat": {"queue_at": 0.2, "reject_at": 0.9}, ...} (service.policy);
    # an attribute or a field left out falls back to the installation's.
    attribute_thresholds: Mapped[dict | None] = mapped_column(JSON)
    rude: Mapped[str | None] = mapped_column(String(16))  # "queue" or "approve"; NULL: the installation's
    # The language the site publishes in (ISO 639-1): language detection leans on it.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # Comments in a language no installed model is validated for: "queue" them all for a person, or
    # "approve" those the model finds nothing in (never auto-rejected on scores); NULL: the installation's.
    unvalidated_language: Mapped[str | None] = mapped_column(String(16))
    # The signing secret Coral shows for its external moderation phase pointed at Stet (NULL: off).
    coral_secret: Mapped[str | None] = mapped_column(String(200))
    # Optional Akismet check (off unless set): the comment text and reader's IP go to Akismet.
    akismet_key: Mapped[str | None] = mapped_column(String(100))
    akismet_blog: Mapped[str | None] = mapped_column(String(500))
    # IANA zone the site's reports are shown in (everything is stored in UTC).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Weighted reader reports that hide an approved comment until a moderator looks at it.
    report_hide_weight: Mapped[float] = mapped_column(Float, default=3.0, server_default="3")
    erasure: Mapped[str] = mapped_column(
        String(16), default=ErasureMode.ANONYMISE.value, server_default=ErasureMode.ANONYMISE.value
    )
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
    section: Mapped[str | None] = mapped_column(String(200), index=True)
    comments_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    premoderation: Mapped[str] = mapped_column(
        String(16), default=Premoderation.OFF.value, server_default=Premoderation.OFF.value
    )
    # Per-article threshold overrides; NULL falls back to the site, then the installation.
    approve_below: Mapped[float | None] = mapped_column(Float)
    reject_above: Mapped[float | None] = mapped_column(Float)
    attribute_thresholds: Mapped[dict | None] = mapped_column(JSON)  # as the site's, overriding it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Author(Base):
    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("site_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    # Moderators' standing orders for this author (see service.moderation author actions).
    banned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    premoderate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    trusted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    # The language detected on arrival (service.language); NULL when too short to tell.
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


class ReportRollup(Base):
    """Editor-report counts for one site (or one of its sections) and one time slot, kept by
    ``service.reporting.rollup``.

    ``slot`` is the slot's start in quarter-hours since 1970; ``measure``/``key`` name what was counted
    (``decision``/``auto:approved``, ``wait``/minutes waited, ``score``/``toxicity:97``, ...).
    """

    __tablename__ = "report_rollups"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    measure: Mapped[str] = mapped_column(String(20), primary_key=True)
    # "" for the whole site, else an article section's counts (sections filter reports).
    section: Mapped[str] = mapped_column(String(200), primary_key=True)
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class ReportRollupState(Base):
    """How far a site's ``ReportRollup`` rows reach (events before ``until``), their slot length
    and the zone whose local days the per-day measures were summed in."""

    __tablename__ = "report_rollup_state"
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    seconds: Mapped[int] = mapped_column()
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str | None] = mapped_column(String(64))


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


class Webhook(Base):
    """A site's endpoint subscribed to events; bodies are signed with ``secret`` (HMAC-SHA256).

    While a secret is rotated, deliveries carry signatures from both the new and the
    previous secret until ``previous_secret_expires_at``.
    """

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event for one webhook (an outbox row written in the same transaction as the change)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A redelivery: the delivery whose event it sends again (its id is the event's id for receivers).
    redelivery_of: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id"))


class AuditEntry(Base):
    """Who changed what, when, from what to what: every moderator, admin and privacy action."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(200))  # a user's name, "api:<site>", or "system"
    action: Mapped[str] = mapped_column(String(50), index=True)
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class User(Base):
    """A dashboard account: moderators work the queue, admins also manage the installation."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.MODERATOR.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserToken(Base):
    """A user's personal API token for the moderation API (``/api/v1/moderation``): it acts as
    that user, with that user's role, for as long as both the token and the user are active.

    Only the token's hash is kept; ``prefix`` tells tokens apart in listings.
    """

    __tablename__ = "user_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # what it is for ("Slack bot")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship()
