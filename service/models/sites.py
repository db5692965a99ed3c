"""A news site and what belongs to it: its API keys, articles, authors and word lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.base import Base, ErasureMode, Premoderation, UTCDateTime, utcnow


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
    site: Mapped[Site] = relationship()


class SiteWord(Base):
    """One entry of a site's word lists; ``*`` is a wildcard (``viagr*``, ``*.example.com``)."""

    __tablename__ = "site_words"
    __table_args__ = (UniqueConstraint("site_id", "kind", "pattern"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    pattern: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
