"""Coral's external moderation phase, with requests built exactly as Coral's code builds them
(``processPhase`` in coral-server's ``phases/external.ts``): the body is
``JSON.stringify(request, null, 2)`` and ``X-Coral-Signature`` is ``sha256=<hex HMAC of the body>``
per active signing secret, joined by commas."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from service import accounts
from service.config import Settings
from service.models import Comment, Site, WordKind
from tests.conftest import wait_until

SECRET = "ssc_6e0a1fd7-0c38-4f0e-a3a7-2a1a9b0e6b11"


def coral_request(body: str, role: str = "COMMENTER", action: str = "NEW") -> dict:
    return {
        "action": action,
        "comment": {"body": body, "parentID": None},
        "author": {"id": "baf4e943-3594-4fcc-b2ba-3e8de7a76352", "role": role},
        "story": {"id": "245b3856-b0a0-4d2f-a6bb-58c71f18d6a6", "url": "http://localhost:1313/posts/budget/"},
        "site": {"id": "a4bede88-2d2c-4424-bc18-4322a9e285a6"},
        "tenantID": "19ba5794-7eeb-4d46-a81b-c00c61672501",
        "tenantDomain": "localhost",
    }


def send(client, key, request, secrets=(SECRET,)):
    body = json.dumps(request, indent=2, ensure_ascii=False).encode()  # JSON.stringify(data, null, 2)
    signature = ",".join("sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)
    return client.post(
        f"/api/v1/coral/moderation?key={key}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Coral-Signature": signature,
            "User-Agent": "Coral Moderation/9.11.0",
        },
    )


@pytest.fixture
def coral_site(db, site_key):
    with db.session() as session:
        site = session.scalars(select(Site)).one()
        accounts.set_coral_secret(session, site, SECRET)
        accounts.change_words(session, site.name, {WordKind.BANNED: ["casin*"]})
        session.commit()
    return site_key


def test_coral_gets_stets_decision_and_the_comment_is_in_stet(app_factory, db, coral_site):
    # The default scorer, with the thresholds chosen for it (service.policy.DEFAULT_RULES).
    client = app_factory(scorers=Settings().scorers).test_client()
    clean = send(client, coral_site, coral_request("Thanks for explaining the new bus routes so clearly."))
    assert (clean.status_code, clean.get_json()) == (200, {"status": "APPROVED"})
    banned = send(client, coral_site, coral_request("Best odds at casinoroyale dot com"))
    assert banned.get_json() == {
        "status": "REJECTED",
        "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}],
    }
    rude = send(client, coral_site, coral_request("The minister is a hypocrite and a liar."))
    assert rude.get_json() == {  # rude is not rejected on toxicity alone: a person decides, in Coral
        "status": "PREMOD",
        "actions": [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}],
    }
    with db.session() as session:
        stored = {c.body: c for c in session.scalars(select(Comment))}
        assert stored["The minister is a hypocrite and a liar."].status == "queued"  # in Stet's queue too
        assert stored["Best odds at casinoroyale dot com"].status == "rejected"
        assert all(c.external_id.startswith("coral:") for c in stored.values())


def test_the_same_request_twice_is_one_comment_and_one_answer(client, db, coral_site):
    request = coral_request("A fair point about the budget.")
    answers = [send(client, coral_site, request).get_json() for _ in range(2)]
    assert answers == [{"status": "APPROVED"}] * 2
    with db.session() as session:
        assert len(session.scalars(select(Comment)).all()) == 1


def test_staff_comments_get_no_opinion(client, coral_site):
    answer = send(client, coral_site, coral_request("Editor's note: corrected the date.", role="STAFF"))
    assert (answer.status_code, answer.data) == (204, b"")


def test_requests_not_signed_with_the_sites_secret_are_refused(client, coral_site, site_key):
    request = coral_request("Hello")
    assert send(client, coral_site, request, secrets=("ssc_wrong-secret-0000",)).status_code == 401
    # during Coral's secret rotation it signs with both: one match is enough
    assert send(client, coral_site, request, secrets=("ssc_old-secret-00000000", SECRET)).status_code == 200
    assert send(client, "stet_not_a_key", request).get_json()["error"]["field"] == "key"


def test_a_site_without_a_coral_secret_is_told_how_to_set_one(client, site_key):
    refused = send(client, site_key, coral_request("Hello"))
    assert refused.status_code == 403 and "stet site coral" in refused.get_json()["error"]["message"]


def test_past_the_budget_coral_gets_no_opinion_and_stet_still_decides(app_factory, db, coral_site):
    client = app_factory(coral_budget=0.000001).test_client()
    answer = send(client, coral_site, coral_request("Thanks for the clear explanation of the vote."))
    assert answer.status_code == 204

    def decided() -> bool:
        with db.session() as session:
            return session.scalars(select(Comment)).one().status == "approved"

    wait_until(decided, timeout=30, what="the comment decided after Coral's answer")


def test_stet_site_coral_sets_the_secret(runner, db, site_key):
    assert runner("site", "coral", "Daily Planet", "--secret", SECRET).exit_code == 0
    with db.session() as session:
        assert session.scalars(select(Site)).one().coral_secret == SECRET
    refused = runner("site", "coral", "Daily Planet", "--secret", "short")
    assert refused.exit_code != 0 and "16 to 200 characters" in refused.output
