"""Done-when for issue 6: a small news site posts comments to the live app with a real worker,
receives signed ``comment.decided`` webhooks (its receiver fails twice, then accepts), reports a
comment, and a moderator finds it in the Reported queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook as StandardWebhook

from service import accounts, webhooks
from service.models import Comment, Site, WebhookDelivery
from tests.conftest import wait_until
from tests.test_dashboard import csrf_token


@dataclass
class Receiver:
    """The news site's webhook endpoint: answers 503 to the first ``failures`` requests."""

    url: str = ""
    failures: int = 2
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                status = 503 if len(state.received) < state.failures else 200
                state.received.append((dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/stet-hook"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.worker
def test_a_news_site_round_trip(
    live_server, site_key, db, receiver, worker_factory, monkeypatch, client, make_user
):
    monkeypatch.setenv("STET_WEBHOOK_RETRY_BASE", "0.5")  # retries after 0.5 s, then 1 s
    with db.session() as session:
        site = accounts.site_for_key(session, site_key)
        hook = webhooks.add(session, site, receiver.url, ["comment.decided"], "test", allow_private=True)
        session.commit()
        secret = hook.secret
    worker_factory(scorers="null").start()  # the round trip, not the model, is under test
    api = httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {site_key}"}, timeout=10)

    posted = api.post(
        "/api/v1/comments",
        json={
            "article": {"id": "budget-2026", "title": "City budget"},
            "author": {"id": "reader-17", "name": "Lois"},
            "body": "Thanks for explaining the bus routes so clearly.",
            "external_id": "c-981",
        },
    )
    assert posted.status_code == 202
    comment_id = posted.json()["id"]

    wait_until(lambda: len(receiver.received) >= 3, timeout=60, what="three delivery attempts")
    assert [status for _h, _b, status in receiver.received] == [503, 503, 200]
    for headers, body, _status in receiver.received:
        assert webhooks.verify(secret, headers["Stet-Signature"], body)
        assert headers["Stet-Event"] == "comment.decided"
        # the same request verifies with the Standard Webhooks library, id and timestamp included
        lowered = {k.lower(): v for k, v in headers.items()}
        assert (
            StandardWebhook(secret).verify(body, lowered)["data"]["comment_id"]
            == json.loads(body)["data"]["comment_id"]
        )
    assert len({headers["Stet-Delivery"] for headers, _b, _s in receiver.received}) == 1
    event = json.loads(receiver.received[-1][1])
    assert event["data"]["comment_id"] == comment_id
    assert event["data"]["status"] == api.get(f"/api/v1/comments/{comment_id}").json()["status"] == "approved"
    with pytest.raises(webhooks.InvalidSignature):
        webhooks.verify(secret, receiver.received[-1][0]["Stet-Signature"], receiver.received[-1][1] + b" ")
    with db.session() as session:
        delivery = session.query(WebhookDelivery).one()
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)

    reported = api.post(
        f"/api/v1/comments/{comment_id}/reports", json={"reporter_id": "reader-3", "reason": "off_topic"}
    )
    assert reported.status_code == 201
    with db.session() as session:
        assert session.get(Comment, comment_id).reported_at is not None

    make_user("mod")
    client.post(
        "/dashboard/login",
        data={
            "name": "mod",
            "password": "correct horse battery",
            "csrf_token": csrf_token(client.get("/dashboard/login").text),
        },
    )
    queue = client.get("/dashboard/queues/reported")
    assert queue.status_code == 200
    assert "Thanks for explaining the bus routes so clearly." in queue.text


@pytest.mark.worker
def test_comment_decided_is_sent_right_after_the_decision_not_by_the_sweep(
    site, db, receiver, worker_factory, settings
):
    receiver.failures = 0
    with db.session() as session:
        hook = webhooks.add(
            session, session.query(Site).one(), receiver.url, ["comment.decided"], "test", allow_private=True
        )
        session.commit()
        secret = hook.secret
    worker_factory(scorers="null", sweep_interval=120).start()  # the sweep would take two minutes
    posted = site.post_comment("Thanks for explaining the bus routes so clearly.").get_json()["id"]
    wait_until(lambda: receiver.received, timeout=20, what="comment.decided sent after the decision")
    headers, body, _status = receiver.received[0]
    event = StandardWebhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert (event["event"], event["data"]["comment_id"]) == ("comment.decided", posted)
