"""The moderation API, ``/api/v1/moderation``: a newsroom's own tools (a Slack bot, a CMS sidebar, an
outside moderation vendor) work the queue as a person would in the dashboard.

A request carries a moderator's or admin's personal token (``Authorization: Bearer stetu_…``,
made in the dashboard under "API tokens"); every action is that user's, audited as theirs, with
the role they have now. Queues take the dashboard's filters and keyset cursor. Actions are
race-safe exactly like the dashboard's: each carries the card's ``state`` and applies only while
the comment is still so (without one, only to a comment waiting in the review queue); otherwise
``409`` says who decided it first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from flask import Blueprint, current_app, g, request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from service import moderation, tokens
from service.accounts import sites_of
from service.api.comments import json_body
from service.api.errors import APIError, parse
from service.api.openapi import documented
from service.api.responses import ActionOut, CardOut, CardPage, ClaimOut, QueueCountsOut, StandingOut
from service.models import Author, Comment, Decision, Status, User
from service.moderation import cards, queues
from service.schemas import MAX_ID, Text
from service.web import get_session

bp = Blueprint("moderation", __name__)
TOKEN = {"user_token": []}
MAX_PAGE = 100


def current_user() -> User:
    """The moderator or admin whose personal token came with this request: 401 without a live
    token, 403 when its user may not moderate (an editor)."""
    if "user" in g:
        return g.user
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise APIError(
            401,
            "unauthorized",
            "missing token: send 'Authorization: Bearer <personal token>' (dashboard → API tokens)",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    session = get_session()
    user = tokens.user_for_token(session, token)
    if user is None:
        site_key = not token.startswith(tokens.TOKEN_PREFIX)
        hint = " (that is a site key: the moderation API takes a person's token)" if site_key else ""
        raise APIError(
            401,
            "unauthorized",
            "invalid or revoked token, or its user is deactivated" + hint,
            field="Authorization",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    session.commit()  # when the token was last used
    if user.role not in tokens.TOKEN_ROLES:
        message = f"{user.name} is an {user.role}: moderating needs a moderator or admin"
        raise APIError(403, "forbidden", message)
    g.user = user
    return user


class QueueQuery(BaseModel):
    """The dashboard's filters; the view checks them (a 422 names the field)."""

    model_config = ConfigDict(populate_by_name=True)
    site: str | None = Field(None, description="a site's id (within the sites you moderate)")
    article: str | None = Field(None, description="the site's article id, or words of its title")
    author: str | None = Field(None, description="the site's author id, or words of the name")
    label: str | None = Field(None, description="a label that scored at least 0.5 (toxicity, threat, spam…)")
    language: str | None = Field(None, description="ISO 639-1 code")
    min_risk: str | None = Field(None, description="0..1")
    max_risk: str | None = Field(None, description="0..1")
    since: str | None = Field(None, description="first day, YYYY-MM-DD (UTC)")
    until: str | None = Field(None, description="last day, YYYY-MM-DD (UTC, inclusive)")
    q: str | None = Field(None, description="words in the comment")
    sort: str | None = Field(None, description="risk (default), oldest or newest")
    cursor: str | None = Field(None, description="next_cursor of the previous page")
    limit: str | None = Field(None, description=f"comments per page, 1..{MAX_PAGE} (default 25)")


Note = Annotated[Text, Field(max_length=400)]
State = Annotated[StrictStr, Field(max_length=60, description="the card's state, as read")]


class ApproveIn(BaseModel):
    note: Note = ""
    state: State | None = None


class RejectIn(BaseModel):
    code: moderation.RejectCode
    note: Note = Field("", description="required when the code is 'other'")
    state: State | None = None


class UndoIn(BaseModel):
    decision_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID)]


class StandingIn(BaseModel):
    action: moderation.Standing
    until: date | None = Field(None, description="suspend: the first day the author may comment again")
    reject_waiting: StrictBool = Field(False, description="ban: also reject their comments waiting")


def card_json(card: cards.Card) -> dict[str, Any]:
    c, last = card.comment, card.last
    return {
        "id": c.id,
        "site": c.site.name,
        "status": c.status,
        "state": card.seen,
        "hidden": c.hidden,
        "risk": c.risk,
        "language": c.language,
        "body": c.body,
        "spans": card.spans,
        "created_at": c.created_at.isoformat(),
        "article": {"id": c.article.external_id, "title": c.article.title, "url": c.article.url},
        "author": author_json(c.author),
        "parent": {"id": card.parent.id, "body": card.parent.body} if card.parent else None,
        "labels": {label: round(value, 6) for label, value in card.labels},
        "reasons": [
            {"code": r.code, "detail": r.detail, "weight": r.weight, "spans": r.spans} for r in card.reasons
        ],
        "reports": [
            {"reason": r.reason, "note": r.note, "weight": r.weight, "created_at": r.created_at.isoformat()}
            for r in card.reports
        ],
        "held_by": card.holder.name if card.holder else None,
        "decision": decision_json(last) if last else None,
    }


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "status": decision.status,
        "by": decision.by,
        "moderator": decision.user.name if decision.user else None,
        "reason": decision.reason,
        "code": (decision.details or {}).get("code"),
        "at": decision.created_at.isoformat(),
    }


def author_json(author: Author) -> dict[str, Any]:
    until = author.suspended_until
    return {
        "id": author.id,
        "external_id": author.external_id,
        "name": author.name,
        "banned": author.banned,
        "suspended_until": until.isoformat() if until else None,
        "premoderate": author.premoderate,
        "trusted": author.trusted,
    }


def _sites() -> frozenset[int] | None:
    """The sites the token's user moderates (None: all); a comment or author elsewhere is a 404."""
    if "my_sites" not in g:
        g.my_sites = sites_of(get_session(), current_user())
    return g.my_sites


def _card(comment_id: int) -> cards.Card:
    _comment(comment_id)  # there, and on one of the user's sites
    settings = current_app.config["STET_SETTINGS"]
    return cards.load(get_session(), [comment_id], current_user(), settings)[0]


def _comment(comment_id: int) -> Comment:
    comment = get_session().get(Comment, comment_id)
    sites = _sites()
    if comment is None or (sites is not None and comment.site_id not in sites):
        raise APIError(404, "not_found", f"no comment {comment_id}", field="id")
    return comment


def _queue(name: str) -> queues.Queue:
    try:
        return queues.Queue(name)
    except ValueError:
        choices = ", ".join(q.value for q in queues.Queue)
        raise APIError(404, "not_found", f"no queue {name!r}: one of {choices}", field="queue") from None


def _filter_error(exc: queues.FilterError) -> APIError:
    field = str(exc).partition(":")[0].replace(" ", "_")
    return APIError(422, "validation_error", str(exc), field=field)


@bp.get("/queues")
@documented(answer=QueueCountsOut, tags=["moderation"], security=TOKEN, errors=(403,))
def counts():
    """How many comments each queue holds (a queue larger than ``cap`` counts as ``cap``)."""
    found = queues.counts(get_session(), _sites())
    return {"queues": {queue.value: n for queue, n in found.items()}, "cap": queues.COUNT_CAP}


@bp.get("/queues/<name>")
@documented(answer=CardPage, query=QueueQuery, tags=["moderation"], security=TOKEN, errors=(403, 404, 422))
def queue(name: str):
    """A page of a queue (review, reported, auto-rejected, approved, rejected, all), filtered as in
    the dashboard, highest risk first; follow ``next_cursor`` for the next page."""
    me, wanted = current_user(), _queue(name)
    raw = request.args.get("limit") or "25"
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise APIError(422, "validation_error", f"limit: a whole number from 1 to {MAX_PAGE}", field="limit")
    session = get_session()
    try:
        filters = queues.Filters.parse(request.args)
        cursor = request.args.get("cursor") or None
        page = queues.page(session, wanted, filters, cursor, size=int(raw), sites=_sites())
    except queues.FilterError as exc:
        raise _filter_error(exc) from None
    found = cards.load(session, page.ids, me, current_app.config["STET_SETTINGS"])
    return {"queue": wanted.value, "comments": [card_json(c) for c in found], "next_cursor": page.cursor}


@bp.get("/comments/<int:comment_id>")
@documented(answer=CardOut, tags=["moderation"], security=TOKEN, errors=(403, 404))
def show(comment_id: int):
    """One comment's card."""
    return card_json(_card(comment_id))


def _decide(comment_id: int, status: Status, data: ApproveIn | RejectIn):
    me = current_user()
    session = get_session()
    comment = _comment(comment_id)
    seen = moderation.Seen(Status.QUEUED.value, None)  # without a state: only a comment waiting
    if data.state is not None:
        seen = moderation.Seen.parse(data.state)
        if seen is None:
            raise APIError(422, "validation_error", "state: send a card's state as read", field="state")
    code = data.code if isinstance(data, RejectIn) else None
    if code == moderation.RejectCode.OTHER and not data.note.strip():
        raise APIError(422, "validation_error", "note: say why when the code is 'other'", field="note")
    try:
        decision = moderation.moderate(session, comment, me, status, data.note, code=code, seen=seen)
    except moderation.ModerationError as exc:
        raise APIError(409, "conflict", f"{exc}; your decision was not applied", field="state") from None
    return {"comment": card_json(_card(comment_id)), "decision": decision_json(decision)}


@bp.post("/comments/<int:comment_id>/approve")
@documented(answer=ActionOut, json=ApproveIn, tags=["moderation"], security=TOKEN, errors=(403, 404, 409))
def approve(comment_id: int):
    """Approve (publish) a comment: one waiting for review, or, with its ``state``, overturn a decision."""
    return _decide(comment_id, Status.APPROVED, parse(ApproveIn, json_body()))


@bp.post("/comments/<int:comment_id>/reject")
@documented(answer=ActionOut, json=RejectIn, tags=["moderation"], security=TOKEN, errors=(403, 404, 409))
def reject(comment_id: int):
    """Reject a comment with a reason code (and a note, required for ``other``)."""
    return _decide(comment_id, Status.REJECTED, parse(RejectIn, json_body()))


@bp.post("/comments/<int:comment_id>/undo")
@documented(answer=ActionOut, json=UndoIn, tags=["moderation"], security=TOKEN, errors=(403, 404, 409))
def undo(comment_id: int):
    """Take back a moderator's decision (the comment's latest) while nobody decided it since."""
    me = current_user()
    data = parse(UndoIn, json_body())
    session = get_session()
    comment = _comment(comment_id)
    try:
        decision = moderation.undo(session, comment, me, data.decision_id)
    except moderation.ModerationError as exc:
        raise APIError(409, "conflict", f"{exc}; nothing was undone", field="decision_id") from None
    return {"comment": card_json(_card(comment_id)), "decision": decision_json(decision)}


@bp.post("/comments/<int:comment_id>/claim")
@documented(answer=ClaimOut, tags=["moderation"], security=TOKEN, errors=(403, 404))
def claim(comment_id: int):
    """Tell other moderators you are looking at a comment (for two minutes; a hint, not a lock)."""
    me = current_user()
    session = get_session()
    comment = _comment(comment_id)
    holder = moderation.claim(session, comment, me)
    until = comment.claimed_until if holder is not None else None
    return {"held_by": holder.name if holder else None, "until": until.isoformat() if until else None}


@bp.post("/authors/<int:author_id>/standing")
@documented(answer=StandingOut, json=StandingIn, tags=["moderation"], security=TOKEN, errors=(403, 404))
def standing(author_id: int):
    """Ban, suspend until a day, pre-moderate or trust an author, or lift it; a ban with
    ``reject_waiting`` also rejects their comments waiting for a decision."""
    me = current_user()
    data = parse(StandingIn, json_body())
    session = get_session()
    author = session.get(Author, author_id)
    sites = _sites()
    if author is None or (sites is not None and author.site_id not in sites):
        raise APIError(404, "not_found", f"no author {author_id}", field="id")
    until = datetime.combine(data.until, time(), UTC) if data.until else None
    if data.action == moderation.Standing.SUSPEND and until is None:
        raise APIError(422, "validation_error", "until: a suspension needs a day", field="until")
    try:
        moderation.set_standing(session, author, me, data.action, until)
    except moderation.ModerationError as exc:
        field = "until" if data.action == moderation.Standing.SUSPEND else "action"
        raise APIError(422, "validation_error", f"{field}: {exc}", field=field) from None
    swept = moderation.Swept(0, 0)
    if data.action == moderation.Standing.BAN and data.reject_waiting:
        swept = moderation.reject_waiting(session, author, me)
    return {"author": author_json(author), "rejected": swept.rejected, "decided_first": swept.decided_first}
