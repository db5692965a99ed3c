"""Events for the news site's webhooks, written as an outbox in the same transaction as the change.

``emit`` adds one ``WebhookDelivery`` row per active webhook of the site subscribed to
the event. Nothing is sent here: the worker delivers pending rows (see
``worker.webhooks``), so an event is never lost to a crash between commit and send. The
composition root hands each commit's new deliveries to the worker right after the commit
(``on_new_deliveries``); the worker's beat sweep is the safety net.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from service import logs
from service.db import ProcessCache
from service.models import Comment, Decision, Webhook, WebhookDelivery, utcnow

COMMENT_CREATED = "comment.created"
COMMENT_DECIDED = "comment.decided"
COMMENT_REPORTED = "comment.reported"
EVENTS = (COMMENT_CREATED, COMMENT_DECIDED, COMMENT_REPORTED)


def on_commit(
    sessions: sessionmaker[Session],
    wanted: Callable[[object], bool],
    send: Callable[[list[int]], None],
) -> None:
    """Call ``send`` with the ids of the new rows a session of ``sessions`` wrote that are
    ``wanted``, right after its commit (a rolled-back transaction sends nothing). The composition
    root uses it to hand work to the worker once the change is durable."""
    key = f"stet.on_commit.{id(send)}"

    @event.listens_for(sessions, "after_flush")
    def _collect(session: Session, _context: Any) -> None:
        new = [obj.id for obj in session.new if wanted(obj)]
        if new:
            session.info.setdefault(key, []).extend(new)

    @event.listens_for(sessions, "after_commit")
    def _send(session: Session) -> None:
        ids = session.info.pop(key, None)
        if ids:
            send(ids)

    @event.listens_for(sessions, "after_soft_rollback")
    def _forget(session: Session, _previous: Any) -> None:
        session.info.pop(key, None)


def on_new_deliveries(sessions: sessionmaker[Session], send: Callable[[list[int]], None]) -> None:
    """``send`` the deliveries each commit wrote (whatever ``send`` misses, the sweep sends)."""
    on_commit(sessions, lambda obj: isinstance(obj, WebhookDelivery), send)


def on_moderator_decisions(sessions: sessionmaker[Session], send: Callable[[list[int]], None]) -> None:
    """``send`` the moderators' decisions each commit wrote (for Akismet's feedback)."""
    on_commit(sessions, lambda obj: isinstance(obj, Decision) and obj.by == "moderator", send)


# Most sites have no webhook: the outbox looks for them once every few seconds, not on every event.
# A webhook added, changed or removed by another process is seen within 5 s.
_webhooks = ProcessCache(5.0, Webhook)


def _subscribers(session: Session, site_id: int) -> list[tuple[int, list[str]]]:
    """The site's active webhooks: (id, the events each is subscribed to)."""
    hooks = _webhooks.get(session, site_id)
    if hooks is None:
        rows = session.execute(
            select(Webhook.id, Webhook.events).where(Webhook.site_id == site_id, Webhook.active.is_(True))
        )
        hooks = [(hook_id, events or []) for hook_id, events in rows]
        _webhooks.put(session, site_id, hooks)
    return hooks


def subscribed(session: Session, site_id: int, event: str) -> bool:
    """Whether a webhook of the site takes ``event`` (most sites have none: no event to build)."""
    return any(event in events for _hook_id, events in _subscribers(session, site_id))


def emit(session: Session, site_id: int, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue ``event`` for every subscribed webhook of the site; the caller commits."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    now = utcnow()
    deliveries = [
        WebhookDelivery(
            webhook_id=hook_id,
            event=event,
            payload={"event": event, "created_at": now.isoformat(), "data": data},
            next_attempt_at=now,
            request_id=logs.request_id.get(),
        )
        for hook_id, events in _subscribers(session, site_id)
        if event in events
    ]
    session.add_all(deliveries)
    return deliveries


def comment_event(session: Session, comment: Comment, event: str) -> list[WebhookDelivery]:
    """Emit ``event`` about ``comment`` with the fields a news site needs to show or hide it."""
    return emit(
        session,
        comment.site_id,
        event,
        {
            "comment_id": comment.id,
            "external_id": comment.external_id,
            "article_id": comment.article.external_id,
            "author_id": comment.author.external_id,
            "status": comment.status,
            "hidden": comment.hidden,
        },
    )
