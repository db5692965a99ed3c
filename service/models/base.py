"""What every table shares: the declarative ``Base``, the ``UTCDateTime`` column type, ``utcnow``
and the enums whose values the tables store."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import DeclarativeBase
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


class WordKind(enum.StrEnum):
    BANNED = "banned"  # reject
    SUSPECT = "suspect"  # queue for a person, highlighted
    ALLOWED_DOMAIN = "allowed_domain"  # links here are not a spam signal
