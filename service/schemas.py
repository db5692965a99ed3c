"""What the news site sends, validated with pydantic (the API turns errors into 422s)."""

from __future__ import annotations

from ipaddress import ip_address
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)


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


class ArticleIn(_Model):
    id: ExternalId
    title: Annotated[Text, Field(max_length=500)] | None = None
    url: Annotated[Text, Field(max_length=2000)] | None = None


class AuthorIn(_Model):
    id: ExternalId
    name: Annotated[Text, Field(max_length=200)] | None = None


class CommentIn(_Model):
    article: ArticleIn
    author: AuthorIn
    body: Text
    parent_id: StrictInt | None = None
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
