"""What the news site sends, validated with pydantic (the API turns errors into 422s)."""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from ipaddress import ip_address
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from service.models import Premoderation, ReportReason

# The largest row id (a 32-bit INTEGER on PostgreSQL): a bigger number is no comment, not a crash.
MAX_ID = 2**31 - 1


def _clean(value: Any) -> Any:
    """Refuse text a database cannot store faithfully (NUL, lone surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text") from None
    return value


def _visible(value: str) -> str:
    """Refuse a text with nothing to read: only spaces and invisible characters (zero-width and
    other format characters), which would be published as an empty comment."""
    if not any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in value):
        raise ValueError("must contain visible text")
    return value


def _id_to_str(value: Any) -> Any:
    # Sites use numeric or string ids; both are kept as strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[StrictStr, BeforeValidator(_clean)]
ExternalId = Annotated[
    StrictStr, BeforeValidator(_clean), BeforeValidator(_id_to_str), Field(min_length=1, max_length=200)
]


class _Model(BaseModel):
    # Unknown fields are ignored so a site can send more than Stet reads.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


def readable_article_id(value: str) -> str:
    """Refuse an article id the API could store but never read back: ``GET /articles/<id>/comments``
    lists an article's comments, so an id ending in ``/comments`` would be taken for that."""
    if value.endswith("/comments"):
        raise ValueError("must not end in /comments (that path lists an article's comments)")
    return value


class ArticleIn(_Model):
    id: Annotated[ExternalId, AfterValidator(readable_article_id)]
    title: Annotated[Text, Field(max_length=500)] | None = None
    url: Annotated[Text, Field(max_length=2000)] | None = None


class AuthorIn(_Model):
    id: ExternalId
    name: Annotated[Text, Field(max_length=200)] | None = None


class CommentIn(_Model):
    article: ArticleIn
    author: AuthorIn
    body: Annotated[Text, AfterValidator(_visible)]
    parent_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)] | None = None
    external_id: ExternalId | None = None
    ip: Annotated[Text, Field(max_length=45)] | None = None
    user_agent: Annotated[Text, Field(max_length=500)] | None = None

    @field_validator("ip")
    @classmethod
    def _valid_ip(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                return str(ip_address(value))
            except ValueError:
                raise ValueError("must be an IPv4 or IPv6 address") from None
        return value


# --- article settings, reader reports and feedback ----------------------------------------


# A threshold: a number from 0 to 1, never a boolean or a string (``false`` used to pass as 0).
Score = Annotated[float, Field(ge=0, le=1, strict=True)]
DangerousAttribute = Literal["threat", "identity_attack", "severe_toxicity", "sexual_explicit"]


class AttributeRuleIn(_Model):
    """A dangerous attribute's rule: never auto-approved from ``queue_at``, rejected from ``reject_at``
    (``null``: never rejected on this score). A field left out falls back to the site's, then the
    installation's."""

    queue_at: Score | None = None
    reject_at: Score | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AttributeRuleIn:
        if self.queue_at is not None and self.reject_at is not None and self.queue_at > self.reject_at:
            raise ValueError("queue_at must not be above reject_at")
        return self


class ThresholdsIn(_Model):
    """One article's thresholds: toxicity approved below ``approve_below`` (from ``reject_above``
    rejected only with a dangerous attribute at 0.5 or more, ``policy.CONFIRMED``), and the dangerous
    attributes' rules."""

    approve_below: Score
    reject_above: Score
    attributes: dict[DangerousAttribute, AttributeRuleIn] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdsIn:
        if self.approve_below >= self.reject_above:
            raise ValueError("approve_below must be below reject_above")
        return self

    def attribute_rules(self) -> dict[str, dict[str, float | None]] | None:
        """The attributes as stored: only the fields given."""
        if not self.attributes:
            return None
        return {label: rule.model_dump(exclude_unset=True) for label, rule in self.attributes.items()}


class ArticleSettingsIn(_Model):
    """``PUT /articles/<id>``: fields left out keep their value (or the default on a new article)."""

    title: Annotated[Text, Field(max_length=500)] | None = None
    url: Annotated[Text, Field(max_length=2000)] | None = None
    section: Annotated[Text, Field(max_length=200)] | None = None
    comments_open: StrictBool | None = None
    premoderation: Premoderation | None = None
    # null clears the override (back to the site's, then the installation's thresholds).
    thresholds: ThresholdsIn | None = None


class ReportIn(_Model):
    reporter_id: ExternalId
    reason: ReportReason
    note: Annotated[Text, Field(max_length=2000)] | None = None


class FeedbackCategory(StrEnum):
    CANNOT_POST = "cannot_post"
    LOGGED_OUT = "logged_out"
    COMMENTS_MISSING = "comments_missing"
    SLOW = "slow"
    OTHER = "other"


class FeedbackIn(_Model):
    category: FeedbackCategory
    message: Annotated[Text, Field(max_length=5000)] | None = None
    article_id: ExternalId | None = None
    reader_id: ExternalId | None = None
    user_agent: Annotated[Text, Field(max_length=500)] | None = None
