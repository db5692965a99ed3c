"""Celery tasks that send webhook deliveries (see ``service.webhooks``) and sweep up due ones."""

from __future__ import annotations

import logging
from functools import lru_cache

import httpx
from celery import shared_task

from service import logs, webhooks
from service.metrics import metrics
from service.models import Webhook, WebhookDelivery
from worker.celery_app import worker_database, worker_settings
from worker.enqueue import DELIVER_TASK, WEBHOOK_SWEEP_TASK, enqueue_deliveries

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _client() -> httpx.Client:
    """One connection pool per worker process; redirects are not followed (the URL is the contract)."""
    return httpx.Client(timeout=worker_settings().webhook_timeout, follow_redirects=False)


@shared_task(name=DELIVER_TASK, ignore_result=True, acks_late=True, soft_time_limit=60, time_limit=90)
def deliver_webhook(delivery_id: int) -> None:
    """One attempt at one delivery; a no-op unless it is pending and due (so duplicates are harmless)."""
    settings = worker_settings()
    db = worker_database()
    with db.session() as session:
        delivery = webhooks.claim(session, delivery_id, lease=settings.webhook_timeout * 2 + 30)
        if delivery is None:
            return
        hook = session.get(Webhook, delivery.webhook_id)
        if hook is None or not hook.active:
            delivery.state = webhooks.FAILED
            delivery.last_error = "the webhook was removed or deactivated"
            session.commit()
            _count(hook.site_id if hook else None, delivery)
            return
        url, site_id, rid = hook.url, hook.site_id, delivery.request_id
        body, headers = webhooks.request_for(hook, delivery)
    with logs.bound(rid):
        _attempt(delivery_id, url, site_id, body, headers)


def _attempt(delivery_id: int, url: str, site_id: int, body: bytes, headers: dict[str, str]) -> None:
    settings = worker_settings()
    db = worker_database()
    # Checked again at each attempt (DNS may have moved), and sent to the address checked.
    address, error = webhooks.resolve(url, settings.webhook_allow_private, settings.webhook_networks)
    status = None
    if error is None:
        target, host, tls = webhooks.pinned(url, address)
        try:
            response = _client().post(target, content=body, headers={**headers, **host}, extensions=tls)
            status = response.status_code
            if not response.is_success:
                # The status only: the receiver's body may be an internal page (never shown).
                error = f"HTTP {status} {response.reason_phrase}".rstrip()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
    with db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        webhooks.record_attempt(session, delivery, status, error, settings)
        session.commit()
        outcome = _count(site_id, delivery)
    log.info("webhook delivery %s to %s: %s (%s)", delivery_id, url, status or error, outcome)


def _count(site_id: int | None, delivery: WebhookDelivery) -> str:
    """Count an attempt by its outcome: delivered, retry (it will be tried again) or failed (given up)."""
    outcome = {webhooks.DELIVERED: "delivered", webhooks.FAILED: "failed"}.get(delivery.state, "retry")
    labels = {"site": str(site_id or ""), "event": delivery.event, "outcome": outcome}
    metrics().webhook_attempts.labels(**labels).inc()
    return outcome


@shared_task(name=WEBHOOK_SWEEP_TASK, ignore_result=True)
def sweep_webhooks() -> int:
    """Enqueue every due pending delivery: retries, and events whose enqueue was lost."""
    with worker_database().session() as session:
        ids = webhooks.due(session)
    if ids:
        log.info("sweep: enqueueing %d due webhook deliveries", len(ids))
        enqueue_deliveries(sweep_webhooks.app, ids)
    return len(ids)
