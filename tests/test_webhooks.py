"""Webhook signing, rotation, the retry schedule, the CLI and the admin pages."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks import WebhookVerificationError

from service import webhooks
from service.app.cli import cli
from service.models import AuditEntry, Site, Webhook, WebhookDelivery, utcnow
from tests.test_dashboard import csrf_token

BODY = b'{"event":"comment.decided"}'


def make_hook(db, events=("comment.decided",)) -> int:
    with db.session() as session:
        site = session.query(Site).one()
        hook = webhooks.add(session, site, "http://127.0.0.1:9/hook", events, "test", allow_private=True)
        session.commit()
        return hook.id


def test_a_signature_verifies_and_tampering_or_replay_does_not():
    hook = Webhook(secret="whsec_a")
    header = webhooks.signature_header(hook, BODY)

    assert webhooks.verify("whsec_a", header, BODY)
    for secret, body, sig in [
        ("whsec_b", BODY, header),
        ("whsec_a", BODY + b" ", header),
        ("whsec_a", BODY, webhooks.signature_header(hook, BODY, timestamp=int(time.time()) - 301)),
        ("whsec_a", BODY, "v1=abc"),
    ]:
        with pytest.raises(webhooks.InvalidSignature):
            webhooks.verify(secret, sig, body)


def test_during_rotation_both_secrets_sign(db, site_key):
    hook_id = make_hook(db)
    with db.session() as session:
        hook = session.get(Webhook, hook_id)
        old = hook.secret
        new = webhooks.rotate(session, hook, "test", grace=timedelta(hours=1))
        header = webhooks.signature_header(hook, BODY)
        assert webhooks.verify(old, header, BODY) and webhooks.verify(new, header, BODY)
        hook.previous_secret_expires_at -= timedelta(hours=2)
        header = webhooks.signature_header(hook, BODY)
        assert webhooks.verify(new, header, BODY)
        with pytest.raises(webhooks.InvalidSignature):
            webhooks.verify(old, header, BODY)


def test_failures_back_off_exponentially_then_fail_after_the_window(db, site_key, settings):
    hook_id = make_hook(db)
    settings = replace(settings, webhook_retry_base=10, webhook_retry_window=100)
    with db.session() as session:
        delivery = WebhookDelivery(webhook_id=hook_id, event="comment.decided", payload={})
        session.add(delivery)
        session.commit()
        delays = []
        for attempt in range(1, 7):
            delivery.attempts = attempt
            before = utcnow()
            webhooks.record_attempt(session, delivery, 500, "HTTP 500", settings)
            if delivery.state == "failed":
                break
            delays.append(round((delivery.next_attempt_at - before).total_seconds()))
        # doubling, each with up to ±20% jitter; the next one (about 160 s) would end past the window
        assert [round(d / base, 1) for d, base in zip(delays, (10, 20, 40, 80), strict=True)] == [
            pytest.approx(1.0, abs=0.21)
        ] * 4
        assert (delivery.state, delivery.last_status_code) == ("failed", 500)


def test_the_cli_adds_lists_rotates_and_removes(db, site_key, settings, monkeypatch):
    monkeypatch.setenv("STET_DATABASE_URL", settings.sqlalchemy_url)
    runner = CliRunner()
    added = runner.invoke(
        cli,
        ["site", "webhook", "add", "Daily Planet", "https://news.example/hook", "--event", "comment.decided"],
    )
    assert added.exit_code == 0, added.output
    hook_id, secret = added.output.split()
    assert secret.startswith("whsec_")
    listed = runner.invoke(cli, ["site", "webhook", "list", "Daily Planet"])
    assert "https://news.example/hook\tcomment.decided\tno deliveries" in listed.output
    rotated = runner.invoke(cli, ["site", "webhook", "rotate", hook_id])
    assert rotated.output.strip().startswith("whsec_") and rotated.output.strip() != secret
    bad = runner.invoke(cli, ["site", "webhook", "add", "Daily Planet", "ftp://x", "--event", "nope"])
    assert bad.exit_code != 0 and "http" in bad.output
    assert runner.invoke(cli, ["site", "webhook", "remove", hook_id]).exit_code == 0
    with db.session() as session:
        assert session.query(Webhook).count() == 0
        actions = [e.action for e in session.query(AuditEntry).filter_by(target_type="webhook")]
        assert actions == ["webhook.added", "webhook.rotated", "webhook.removed"]


def login(client, name):
    token = csrf_token(client.get("/dashboard/login").text)
    client.post(
        "/dashboard/login", data={"name": name, "password": "correct horse battery", "csrf_token": token}
    )


def test_admins_see_the_delivery_log_and_redeliver(app, client, db, site_key, make_user):
    hook_id = make_hook(db)
    with db.session() as session:
        session.add(
            WebhookDelivery(
                webhook_id=hook_id,
                event="comment.decided",
                payload={"data": {"comment_id": 7}},
                state="failed",
                attempts=9,
                last_status_code=502,
                last_error="HTTP 502: bad gateway",
            )
        )
        session.commit()
    make_user("mod")
    login(client, "mod")
    assert client.get("/dashboard/webhooks/").status_code == 403

    client = app.test_client()
    make_user("boss", role="admin")
    login(client, "boss")
    page = client.get(f"/dashboard/webhooks/{hook_id}")
    assert "HTTP 502" in page.text and "failed" in page.text
    delivery_id = 1
    assert (
        client.post(f"/dashboard/webhooks/deliveries/{delivery_id}/redeliver").status_code == 400
    )  # no CSRF
    done = client.post(
        f"/dashboard/webhooks/deliveries/{delivery_id}/redeliver",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=True,
    )
    assert "queued again" in done.text
    with db.session() as session:
        again = session.query(WebhookDelivery).order_by(WebhookDelivery.id.desc()).first()
        assert (again.state, again.attempts, again.payload) == ("pending", 0, {"data": {"comment_id": 7}})
        entry = session.query(AuditEntry).filter_by(action="webhook.redelivered").one()
        assert entry.actor == "boss"


def test_an_admin_adds_an_endpoint_and_sees_its_secret_once(client, db, site_key, make_user):
    make_user("boss", role="admin")
    login(client, "boss")
    page = client.get("/dashboard/webhooks/")
    with db.session() as session:
        site_id = session.query(Site).one().id
    added = client.post(
        "/dashboard/webhooks/",
        data={
            "csrf_token": csrf_token(page.text),
            "site_id": site_id,
            "url": "https://news.example/h",
            "events": ["comment.reported"],
        },
    )
    with db.session() as session:
        hook = session.query(Webhook).one()
        assert hook.events == ["comment.reported"]
        assert hook.secret in added.text
    assert hook.secret not in client.get("/dashboard/webhooks/").text


def delivery_for(db, hook_id: int) -> int:
    with db.session() as session:
        delivery = WebhookDelivery(webhook_id=hook_id, event="comment.decided", payload={"data": {"id": 1}})
        session.add(delivery)
        session.commit()
        return delivery.id


def test_the_standardwebhooks_library_verifies_every_request_even_during_rotation(db, site_key):
    hook_id = make_hook(db)
    delivery_id = delivery_for(db, hook_id)
    with db.session() as session:
        hook, delivery = session.get(Webhook, hook_id), session.get(WebhookDelivery, delivery_id)
        body, headers = webhooks.request_for(hook, delivery)
        assert StandardWebhook(hook.secret).verify(body, headers) == {"data": {"id": 1}}
        with pytest.raises(WebhookVerificationError):
            StandardWebhook(hook.secret).verify(body + b" ", headers)
        with pytest.raises(WebhookVerificationError):  # the id is signed too
            StandardWebhook(hook.secret).verify(body, {**headers, "webhook-id": "999"})
        old = hook.secret
        new = webhooks.rotate(session, hook, "test", grace=timedelta(hours=1))
        body, headers = webhooks.request_for(hook, delivery)
        assert StandardWebhook(old).verify(body, headers) == StandardWebhook(new).verify(body, headers)


def test_a_redelivery_keeps_the_events_id(db, site_key):
    hook_id = make_hook(db)
    delivery_id = delivery_for(db, hook_id)
    with db.session() as session:
        hook, first = session.get(Webhook, hook_id), session.get(WebhookDelivery, delivery_id)
        again = webhooks.redeliver(session, webhooks.redeliver(session, first, "test"), "test")
        ids = {webhooks.request_for(hook, d)[1]["webhook-id"] for d in (first, again)}
        assert ids == {str(first.id)} and again.id != first.id
        assert webhooks.request_for(hook, again)[1]["Stet-Delivery"] == str(first.id)


def test_410_gone_stops_the_endpoint(db, site_key, settings):
    hook_id = make_hook(db)
    delivery_id = delivery_for(db, hook_id)
    with db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        delivery.attempts = 1
        webhooks.record_attempt(session, delivery, 410, "HTTP 410: gone", settings)
        session.commit()
        assert delivery.state == "failed" and session.get(Webhook, hook_id).active is False
        assert session.query(AuditEntry).filter_by(action="webhook.gone").count() == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://192.168.0.10/hook",
        "http://0x7f000001/hook",  # odd encodings of 127.0.0.1
        "http://2130706433/hook",
        "http://017700000001/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://[fd00::1]/hook",
        "http://224.0.0.1/hook",  # multicast
    ],
)
def test_endpoints_on_internal_addresses_are_refused(db, site_key, url):
    with db.session() as session, pytest.raises(webhooks.WebhookError, match="internal address"):
        webhooks.add(session, session.query(Site).one(), url, [], "test")
    assert webhooks.refusal(url, allow_private=True) is None
    assert webhooks.refusal("http://93.184.216.34/hook") is None  # a public address


def test_stripes_sdk_verifies_the_stet_signature():
    import stripe

    hook = Webhook(secret=webhooks.new_secret())
    header = webhooks.signature_header(hook, BODY)
    assert stripe.WebhookSignature.verify_header(BODY.decode(), header, hook.secret, 300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(BODY.decode() + " ", header, hook.secret, 300)


def test_a_failed_delivery_keeps_the_status_never_the_receivers_body(db, site_key, settings, monkeypatch):
    """An endpoint that is really an internal page must not have its answer shown to admins."""
    from flask import Flask

    import worker.webhooks as sender
    from tests.conftest import serving

    receiver = Flask("receiver")
    receiver.add_url_rule("/hook", "hook", lambda: ("db password is hunter2", 500), methods=["POST"])
    monkeypatch.setattr(sender, "worker_settings", lambda: settings)
    monkeypatch.setattr(sender, "worker_database", lambda: db)
    sender._client.cache_clear()
    with serving(receiver) as url:
        with db.session() as session:
            site = session.query(Site).one()
            hook = webhooks.add(session, site, f"{url}/hook", ["comment.decided"], "test", allow_private=True)
            session.commit()
            hook_id = hook.id
        delivery_id = delivery_for(db, hook_id)
        sender.deliver_webhook(delivery_id)
    sender._client.cache_clear()
    with db.session() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        assert delivery.last_status_code == 500
        assert delivery.last_error == "HTTP 500 INTERNAL SERVER ERROR"


def test_a_delivery_goes_to_the_address_that_was_checked_not_to_a_new_dns_answer(monkeypatch):
    """DNS rebinding: a name that passed the check must not resolve somewhere internal at connect
    time. The request is sent to the vetted address, with the original Host and TLS name."""
    import socket

    import httpx
    from flask import Flask, request

    from tests.conftest import serving

    public = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: public)
    assert webhooks.resolve("https://hooks.example.org/stet") == ("93.184.216.34", None)
    target, host, tls = webhooks.pinned("https://hooks.example.org:8443/stet?x=1", "93.184.216.34")
    assert target == "https://93.184.216.34:8443/stet?x=1"
    assert host == {"Host": "hooks.example.org:8443"} and tls == {"sni_hostname": "hooks.example.org"}
    assert webhooks.pinned("http://h.example/x", "2001:db8::1")[0] == "http://[2001:db8::1]/x"
    monkeypatch.undo()

    seen = []
    receiver = Flask("receiver")
    receiver.add_url_rule("/hook", "hook", lambda: seen.append(request.host) or "", methods=["POST"])
    with serving(receiver) as url:
        port = url.rsplit(":", 1)[1]
        # "hooks.invalid" never resolves: the request can only arrive by the pinned address.
        target, host, tls = webhooks.pinned(f"http://hooks.invalid:{port}/hook", "127.0.0.1")
        with httpx.Client() as client:  # as the worker's client sends it
            assert client.post(target, headers=host, extensions=tls, content=b"{}").status_code == 200
    assert seen == [f"hooks.invalid:{port}"]


def test_an_admin_allows_only_the_on_premises_networks_named(db, site_key):
    from ipaddress import ip_network

    from service.config import Settings

    settings = Settings(webhook_allowed_networks="10.20.0.0/16, 192.168.5.7/32")
    assert settings.webhook_networks == (ip_network("10.20.0.0/16"), ip_network("192.168.5.7/32"))
    allowed = settings.webhook_networks
    assert webhooks.refusal("http://10.20.3.4/hook", networks=allowed) is None
    assert webhooks.refusal("http://192.168.5.7/hook", networks=allowed) is None
    assert webhooks.resolve("http://10.20.3.4/hook", networks=allowed) == ("10.20.3.4", None)  # pinned too
    for outside in ("http://10.21.0.1/hook", "http://192.168.5.8/hook", "http://169.254.169.254/latest"):
        assert "internal address" in webhooks.refusal(outside, networks=allowed)
    with pytest.raises(ValueError, match="STET_WEBHOOK_ALLOWED_NETWORKS"):
        Settings(webhook_allowed_networks="10.0.0.0/33")
