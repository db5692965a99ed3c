"""Signed webhooks: a site's endpoints, how each event's body is signed, and the delivery log.

``service.events`` writes one pending ``WebhookDelivery`` per subscribed endpoint in the same
transaction as the change; the worker (``worker.webhooks``) sends it and records the answer here.
A failed attempt is retried with exponential backoff until ``webhook_retry_window`` after the
event, then marked failed; an admin can redeliver it from the dashboard.

Each request carries ``Stet-Event``, ``Stet-Delivery`` (an id to de-duplicate on: delivery is at
least once, and a redelivery keeps its id) and ``Stet-Signature: t=<unix time>,v1=<hex>``, where
the hex is HMAC-SHA256(secret, f"{t}.{body}"); receivers check it with ``verify`` (or Stripe's
SDKs). The same request also carries the Standard Webhooks headers (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``, which also signs the id), so the ``standardwebhooks``
libraries verify it with the same secret. While a secret is being rotated both schemes carry two
signatures, one per secret.

A failed attempt is retried with exponential backoff and jitter; a ``410 Gone`` stops the endpoint.
Endpoints whose host resolves to a loopback, private or link-local address are refused (when the
endpoint is added, and again before each attempt) unless ``STET_WEBHOOK_ALLOW_PRIVATE`` is set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from service import audit, events
from service.config import Settings
from service.models import Site, User, Webhook, WebhookDelivery, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Stet-Signature"
SECRET_PREFIX = "whsec_"
# How long the previous secret still signs deliveries after a rotation.
ROTATION_GRACE = timedelta(hours=24)
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookError(ValueError):
    """A webhook cannot be set up as asked; the message says why."""


class InvalidSignature(ValueError):
    """A webhook request whose signature does not check out; the message says why."""


# --- signing -------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(hook: Webhook, body: bytes, timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex>``, plus a ``v1`` by the previous secret while it is still valid."""
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}", f"v1={sign(hook.secret, t, body)}"]
    expires = hook.previous_secret_expires_at
    if hook.previous_secret and expires is not None and expires > utcnow():
        parts.append(f"v1={sign(hook.previous_secret, t, body)}")
    return ",".join(parts)


def verify(secret: str, header: str, body: bytes | str, tolerance: int = 300) -> bool:
    """Check a ``Stet-Signature`` header against the raw request body; for receivers.

    Returns True, or raises InvalidSignature when the header is malformed, no ``v1`` matches
    ``secret``, or the timestamp is more than ``tolerance`` seconds away (a replay).
    """
    raw = body.encode() if isinstance(body, str) else body
    timestamp, candidates = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidSignature("malformed signature header: expected t=<unix time>,v1=<hex>")
    if abs(time.time() - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance: a replay, or a clock far off")
    expected = sign(secret, timestamp, raw)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise InvalidSignature("no signature matches the secret")
    return True


def _standard_key(secret: str) -> bytes:
    """The HMAC key Standard Webhooks derives from a ``whsec_<base64>`` secret (secrets made before
    Stet used standard base64 are URL-safe base64: rotate them once for the libraries)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def standard_signature(hook: Webhook, message_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`` per valid secret."""
    secrets_ = [hook.secret]
    expires = hook.previous_secret_expires_at
    if hook.previous_secret and expires is not None and expires > utcnow():
        secrets_.append(hook.previous_secret)
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_standard_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets_
    )


def message_id(delivery: WebhookDelivery) -> str:
    """The event's id for receivers to de-duplicate on: a redelivery keeps the original's."""
    return str(delivery.redelivery_of or delivery.id)


def request_for(hook: Webhook, delivery: WebhookDelivery) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery attempt (with the request id of the change, when known)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp, msg = int(time.time()), message_id(delivery)
    traced = {"X-Request-Id": delivery.request_id} if delivery.request_id else {}
    return body, {
        **traced,
        "Content-Type": "application/json",
        "User-Agent": "Stet-Webhooks/1",
        "Stet-Event": delivery.event,
        "Stet-Delivery": msg,
        SIGNATURE_HEADER: signature_header(hook, body, timestamp),
        "webhook-id": msg,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(hook, msg, timestamp, body),
    }


# --- endpoints -----------------------------------------------------------------------------


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in standard base64, as Standard Webhooks expects."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


Networks = Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]


def resolve(url: str, allow_private: bool = False, networks: Networks = ()) -> tuple[str | None, str | None]:
    """Where to send ``url``'s request: ``(address, None)`` with the vetted address to connect to
    (so a DNS answer that changes after the check cannot move the request inside), or ``(None,
    why)`` when the host resolves to a loopback, private, link-local, multicast or otherwise
    internal address outside the admin's ``networks`` (no SSRF into the newsroom's network).
    ``(None, None)``: connect by name (a host that does not resolve now fails on its own; every
    private address allowed by the admin)."""
    host = urlsplit(url).hostname or ""
    if allow_private:
        return None, None
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return None, None
    for address in sorted(addresses):
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if (not ip.is_global or ip.is_multicast) and not any(ip in network for network in networks):
            why = (
                f"{host} resolves to {ip}, an internal address "
                "(STET_WEBHOOK_ALLOWED_NETWORKS or STET_WEBHOOK_ALLOW_PRIVATE allow it)"
            )
            return None, why
    return (min(addresses) if addresses else None), None


def refusal(url: str, allow_private: bool = False, networks: Networks = ()) -> str | None:
    """Why Stet must not call ``url`` (see ``resolve``), or None."""
    return resolve(url, allow_private, networks)[1]


def pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """``url`` rewritten to connect to ``address``, with the ``Host`` header and the TLS server
    name (httpx's ``sni_hostname``, which the certificate is checked against) of the original."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host}, {"sni_hostname": parts.hostname or ""}


def _check(
    url: str, subscribed: Iterable[str], allow_private: bool = False, networks: Networks = ()
) -> list[str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise WebhookError(f"a webhook URL is http:// or https:// with a host: {url!r}")
    refused = refusal(url, allow_private, networks)
    if refused:
        raise WebhookError(refused)
    chosen = list(dict.fromkeys(subscribed)) or list(events.EVENTS)
    unknown = [e for e in chosen if e not in events.EVENTS]
    if unknown:
        raise WebhookError(f"unknown events {', '.join(unknown)} (known: {', '.join(events.EVENTS)})")
    return chosen


def add(
    session: Session,
    site: Site,
    url: str,
    subscribed: Iterable[str],
    actor: User | str,
    allow_private: bool = False,
    networks: Networks = (),
) -> Webhook:
    """A new endpoint for ``site`` (all events when none are named); its secret is on the row."""
    chosen = _check(url, subscribed, allow_private, networks)
    hook = Webhook(site_id=site.id, url=url, events=chosen, secret=new_secret(), active=True)
    session.add(hook)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="webhook.added",
        target_type="webhook",
        target_id=hook.id,
        after={"url": url, "events": hook.events},
        site_id=site.id,
    )
    return hook


def rotate(session: Session, hook: Webhook, actor: User | str, grace: timedelta = ROTATION_GRACE) -> str:
    """Give ``hook`` a new secret; the old one keeps signing (as a second ``v1``) for ``grace``."""
    hook.previous_secret, hook.secret = hook.secret, new_secret()
    hook.previous_secret_expires_at = utcnow() + grace
    audit.record(
        session,
        actor=actor,
        action="webhook.rotated",
        target_type="webhook",
        target_id=hook.id,
        after={"previous_secret_expires_at": hook.previous_secret_expires_at.isoformat()},
        site_id=hook.site_id,
    )
    return hook.secret


def remove(session: Session, hook: Webhook, actor: User | str) -> None:
    """Delete an endpoint and its delivery log."""
    audit.record(
        session,
        actor=actor,
        action="webhook.removed",
        target_type="webhook",
        target_id=hook.id,
        before={"url": hook.url, "events": hook.events},
        site_id=hook.site_id,
    )
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    session.delete(hook)


def redeliver(session: Session, delivery: WebhookDelivery, actor: User | str) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with its own log and retry window; it keeps
    the event's id (``Stet-Delivery``, ``webhook-id``), so a receiver that saw it ignores it."""
    again = WebhookDelivery(
        webhook_id=delivery.webhook_id,
        event=delivery.event,
        payload=delivery.payload,
        next_attempt_at=utcnow(),
        redelivery_of=delivery.redelivery_of or delivery.id,
        request_id=delivery.request_id,
    )
    session.add(again)
    session.flush()
    hook = session.get(Webhook, delivery.webhook_id)
    audit.record(
        session,
        actor=actor,
        action="webhook.redelivered",
        target_type="webhook_delivery",
        target_id=delivery.id,
        after={"delivery": again.id},
        site_id=hook.site_id if hook else None,
    )
    return again


# --- delivery ------------------------------------------------------------------------------


def claim(session: Session, delivery_id: int, lease: float) -> WebhookDelivery | None:
    """Take a due pending delivery for one attempt (commits); None if another worker has it or it
    is not due. If the worker dies mid-attempt the sweep picks it up again after ``lease`` seconds."""
    now = utcnow()
    updated = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.state == PENDING,
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + timedelta(seconds=lease), attempts=WebhookDelivery.attempts + 1)
    )
    taken = cast(CursorResult[Any], updated).rowcount  # an UPDATE's result is a CursorResult
    session.commit()
    return session.get(WebhookDelivery, delivery_id) if taken else None


def record_attempt(
    session: Session,
    delivery: WebhookDelivery,
    status_code: int | None,
    error: str | None,
    settings: Settings,
) -> None:
    """Log an attempt's answer: delivered on 2xx; a 410 Gone fails it and turns the endpoint off (as
    Standard Webhooks asks); else retried with backoff (±20% jitter, so failed endpoints coming
    back are not hit by every retry at once) or, past the window, failed."""
    now = utcnow()
    delivery.last_status_code, delivery.last_error = status_code, (error or None) and error[:500]
    if status_code is not None and 200 <= status_code < 300:
        delivery.state, delivery.delivered_at, delivery.last_error = DELIVERED, now, None
        return
    if status_code == 410:
        delivery.state = FAILED
        hook = session.get(Webhook, delivery.webhook_id)
        if hook is not None and hook.active:
            hook.active = False
            audit.record(
                session,
                actor="stet",
                action="webhook.gone",
                target_type="webhook",
                target_id=hook.id,
                after={"active": False, "delivery": delivery.id},
                site_id=hook.site_id,
            )
        return
    delay = settings.webhook_retry_base * 2 ** max(0, delivery.attempts - 1) * random.uniform(0.8, 1.2)
    retry_at = now + timedelta(seconds=delay)
    if retry_at > delivery.created_at + timedelta(seconds=settings.webhook_retry_window):
        delivery.state = FAILED
    else:
        delivery.next_attempt_at = retry_at


def due(session: Session, limit: int = 200) -> list[int]:
    """Pending deliveries whose next attempt is due, oldest first."""
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= utcnow())
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )
