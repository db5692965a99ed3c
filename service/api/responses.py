"""What the API answers, as pydantic models: they document responses in the OpenAPI document
(``service.api.openapi``) and schemathesis checks every live answer against them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from service.models import Status


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None
    details: list[ErrorDetail]


class ErrorOut(BaseModel):
    """Every error of the API: ``{"error": {"code", "message", "field", "details"}}``."""

    error: ErrorBody


class ReasonOut(BaseModel):
    scorer: str
    code: str
    detail: str
    weight: float
    spans: list[list[int]]


class DecisionOut(BaseModel):
    status: Status
    by: str
    moderator: str | None
    reason: str
    at: str


class CommentOut(BaseModel):
    id: int
    external_id: str | None
    status: Status
    hidden: bool  # hidden by reader reports until a moderator looks again: do not show it
    article_id: str
    author_id: str
    parent_id: int | None
    body: str
    # ISO 639-1 code, detected when the comment is scored: null while pending, and when the text is
    # too short to tell (the site's is assumed)
    language: str | None
    created_at: str
    scores: dict[str, dict[str, float | str]]
    reasons: list[ReasonOut]
    decision: DecisionOut | None


class ArticleRef(BaseModel):
    id: str
    title: str | None
    url: str | None


class CommentPage(BaseModel):
    article: ArticleRef
    comments: list[CommentOut]
    next_cursor: str | None


class AttributeRuleOut(BaseModel):
    queue_at: float | None = None
    reject_at: float | None = None


class ThresholdsOut(BaseModel):
    approve_below: float
    reject_above: float
    attributes: dict[str, AttributeRuleOut] | None = None


class ArticleOut(BaseModel):
    id: str
    title: str | None
    url: str | None
    section: str | None
    comments_open: bool
    premoderation: str
    thresholds: ThresholdsOut | None


class ReportOut(BaseModel):
    id: int
    comment_id: int
    reporter_id: str
    reason: str
    note: str | None
    created_at: str
    comment_hidden: bool


class FeedbackOut(BaseModel):
    id: int
    category: str
    message: str | None
    article_id: str | None
    reader_id: str | None
    created_at: str


class AuthorExport(BaseModel):
    """Everything Stet holds about one author of a site."""

    author: dict[str, Any]
    comments: list[dict[str, Any]]
    reports_made: list[dict[str, Any]]


class ErasureOut(BaseModel):
    author_id: str
    mode: str
    comments: int


class LabelOut(BaseModel):
    id: int
    comment_id: int | None
    text: str | None
    attribute: str
    value: float
    source: str
    client_token: str | None  # a suggestscore call's Perspective clientToken
    community_id: str | None  # ... and communityId
    created_at: str


class LabelPage(BaseModel):
    labels: list[LabelOut]
    next_cursor: str | None


# --- the moderation API (personal tokens) ------------------------------------------------------


class CardArticle(BaseModel):
    id: str  # the site's article id
    title: str | None
    url: str | None


class CardAuthor(BaseModel):
    id: int  # Stet's author id, for /moderation/authors/<id>
    external_id: str  # the site's
    name: str | None
    banned: bool
    suspended_until: str | None
    premoderate: bool
    trusted: bool


class CardParent(BaseModel):
    id: int
    body: str


class CardReport(BaseModel):
    reason: str
    note: str | None
    weight: float
    created_at: str


class CardReason(BaseModel):
    code: str
    detail: str
    weight: float
    spans: list[list[int]]


class CardDecision(BaseModel):
    id: int  # what /undo takes
    status: Status
    by: str  # "auto" or "moderator"
    moderator: str | None
    reason: str
    code: str | None  # a rejection's reason code
    at: str


class CardOut(BaseModel):
    """A comment as a moderator sees it in the dashboard's card."""

    id: int
    site: str
    status: Status
    # Send it back with an action: the action applies only while the comment is still so.
    state: str
    hidden: bool
    risk: float | None
    language: str | None
    body: str
    spans: list[list[int]]  # [start, end) of what the models and word lists flagged
    created_at: str
    article: CardArticle
    author: CardAuthor
    parent: CardParent | None
    labels: dict[str, float]  # the highest score per label
    reasons: list[CardReason]
    reports: list[CardReport]  # open reader reports
    held_by: str | None  # another moderator looking at it now
    decision: CardDecision | None  # the decision in effect


class CardPage(BaseModel):
    queue: str
    comments: list[CardOut]
    next_cursor: str | None


class QueueCountsOut(BaseModel):
    """How many comments each queue holds, up to ``cap``."""

    queues: dict[str, int]
    cap: int


class ActionOut(BaseModel):
    comment: CardOut
    decision: CardDecision


class StandingOut(BaseModel):
    author: CardAuthor
    rejected: int  # waiting comments a ban rejected
    decided_first: int  # ... that someone else decided first


class ClaimOut(BaseModel):
    held_by: str | None  # who holds the comment now (you, after a successful claim)
    until: str | None
