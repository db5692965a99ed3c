"""The moderation API as a newsroom's own tool uses it: a moderator makes a token in the dashboard,
the tool lists the queue page by page and decides every comment over HTTP, race-safe and audited
as that moderator."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from service.models import AuditEntry, User, UserToken
from tests.test_dashboard import Dashboard, csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")

API = "/api/v1/moderation"


def make_token(client, name: str = "Slack bot") -> str:
    """Log in is done; make a token on the dashboard page and read it off the answer."""
    page = client.get("/dashboard/tokens/")
    assert page.status_code == 200
    answer = client.post("/dashboard/tokens/", data={"name": name, "csrf_token": csrf_token(page.text)})
    assert answer.status_code == 200
    match = re.search(r'<code class="key">(stetu_[A-Za-z0-9_-]+)</code>', answer.text)
    assert match, "the new token is not on the page"
    return match.group(1)


@pytest.fixture
def mod_token(client, make_user) -> str:
    make_user("mod")
    assert Dashboard(client).login().status_code == 302
    token = make_token(client)
    client.post("/dashboard/logout", data={"csrf_token": csrf_token(client.get("/dashboard/tokens/").text)})
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_tool_clears_the_review_queue_with_a_moderators_token(
    app, live_server, mod_token, queued_comment, site, db
):
    ids = [
        queued_comment(f"Comment number {n}: {'thanks' if n % 3 else 'you lot are clowns'}")
        for n in range(23)
    ]
    tool = requests.Session()
    tool.headers.update(bearer(mod_token))

    counts = tool.get(f"{live_server}{API}/queues").json()
    assert counts["queues"]["review"] == 23
    seen, cursor, pages = [], None, 0
    while True:  # a page of ten at a time, as a bot posting to a channel would
        params = {"limit": 10, "sort": "oldest"} | ({"cursor": cursor} if cursor else {})
        page = tool.get(f"{live_server}{API}/queues/review", params=params)
        assert page.status_code == 200, page.text
        pages += 1
        for card in page.json()["comments"]:
            seen.append(card["id"])
            if "clowns" in card["body"]:
                body = {"code": "abusive", "note": "name-calling", "state": card["state"]}
                answer = tool.post(f"{live_server}{API}/comments/{card['id']}/reject", json=body)
            else:
                answer = tool.post(f"{live_server}{API}/comments/{card['id']}/approve", json={})
            assert answer.status_code == 200, answer.text
            assert answer.json()["decision"]["moderator"] == "mod"
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    # Deciding while paging moves nothing: every comment came exactly once, oldest first.
    assert seen == ids and pages == 3

    assert tool.get(f"{live_server}{API}/queues").json()["queues"]["review"] == 0
    assert tool.get(f"{live_server}{API}/queues/review").json()["comments"] == []
    statuses = [site.status(i) for i in ids]
    assert statuses == ["rejected" if n % 3 == 0 else "approved" for n in range(23)]
    with db.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "comment")).all()
        assert len(entries) == 23 and {e.actor for e in entries} == {"mod"}
        rejected = session.scalars(select(AuditEntry).where(AuditEntry.action == "comment.rejected")).first()
        assert rejected.after["code"] == "abusive"
        used = session.scalars(select(UserToken)).one()
        assert used.last_used_at is not None


def test_a_card_shows_what_the_dashboards_card_shows(client, mod_token, scored_comment):
    from service import policy

    reasons = [policy.Reason("suspect_word", 0.5, "casino", [(24, 30)])]
    comment_id = scored_comment(
        "You absolute idiot, buy casino chips", scores={"toxicity": 0.6, "threat": 0.01}, reasons=reasons
    )
    card = client.get(f"{API}/comments/{comment_id}", headers=bearer(mod_token)).get_json()
    assert card["status"] == "queued" and card["state"] == "queued|" and card["site"] == "Daily Planet"
    assert card["labels"] == {"toxicity": 0.6, "threat": 0.01}
    assert card["spans"] == [[24, 30]] and card["reasons"][0]["code"] == "suspect_word"
    assert card["article"] == {"id": "story-1", "title": "City budget", "url": None}
    assert card["author"]["external_id"] == "reader-1" and card["author"]["banned"] is False
    assert card["decision"]["by"] == "auto"
    assert client.get(f"{API}/comments/999999", headers=bearer(mod_token)).status_code == 404


def test_two_tools_on_one_comment_the_second_is_refused_with_who_decided(
    client, mod_token, make_user, queued_comment, site
):
    comment_id = queued_comment()
    card = client.get(f"{API}/comments/{comment_id}", headers=bearer(mod_token)).get_json()
    make_user("ann")
    Dashboard(client).login("ann")
    ann_token = make_token(client, "CMS sidebar")

    first = client.post(
        f"{API}/comments/{comment_id}/reject", json={"code": "spam"}, headers=bearer(ann_token)
    )
    assert first.status_code == 200
    late = client.post(
        f"{API}/comments/{comment_id}/approve", json={"state": card["state"]}, headers=bearer(mod_token)
    )
    assert late.status_code == 409
    assert late.get_json()["error"]["message"] == "already rejected by ann; your decision was not applied"
    assert site.status(comment_id) == "rejected"

    # With the state as it is now, a moderator overturns ann's rejection; then undoes it.
    now = client.get(f"{API}/comments/{comment_id}", headers=bearer(mod_token)).get_json()
    assert now["decision"]["moderator"] == "ann" and now["decision"]["code"] == "spam"
    overturned = client.post(
        f"{API}/comments/{comment_id}/approve", json={"state": now["state"]}, headers=bearer(mod_token)
    )
    assert overturned.status_code == 200 and site.status(comment_id) == "approved"
    decision_id = overturned.get_json()["decision"]["id"]
    undone = client.post(
        f"{API}/comments/{comment_id}/undo", json={"decision_id": decision_id}, headers=bearer(mod_token)
    )
    assert undone.status_code == 200, undone.text
    assert undone.get_json()["comment"]["status"] == "rejected"
    again = client.post(
        f"{API}/comments/{comment_id}/undo", json={"decision_id": decision_id}, headers=bearer(mod_token)
    )
    assert again.status_code == 409


def test_a_decision_without_a_state_only_takes_a_comment_waiting_for_review(
    client, mod_token, scored_comment, site
):
    approved = scored_comment(scores={"toxicity": 0.01})
    assert site.status(approved) == "approved"
    answer = client.post(
        f"{API}/comments/{approved}/reject", json={"code": "spam"}, headers=bearer(mod_token)
    )
    assert answer.status_code == 409 and site.status(approved) == "approved"


def test_tokens_are_refused_when_missing_wrong_revoked_or_their_user_cannot_moderate(
    client, app, db, mod_token, site_key, make_user, queued_comment
):
    queued_comment()
    assert client.get(f"{API}/queues/review", headers=bearer(mod_token)).status_code == 200
    missing = client.get(f"{API}/queues/review")
    assert missing.status_code == 401 and missing.get_json()["error"]["field"] == "Authorization"
    site_key_answer = client.get(f"{API}/queues/review", headers=bearer(site_key))
    assert site_key_answer.status_code == 401 and "site key" in site_key_answer.get_json()["error"]["message"]

    with db.session() as session:  # demoted to editor: the queue is gone at once
        session.scalars(select(User).where(User.name == "mod")).one().role = "editor"
        session.commit()
    demoted = client.get(f"{API}/queues/review", headers=bearer(mod_token))
    assert demoted.status_code == 403 and "editor" in demoted.get_json()["error"]["message"]
    with db.session() as session:  # deactivated: the token stops working
        user = session.scalars(select(User).where(User.name == "mod")).one()
        user.role, user.active = "moderator", False
        session.commit()
    assert client.get(f"{API}/queues/review", headers=bearer(mod_token)).status_code == 401
    with db.session() as session:
        session.scalars(select(User).where(User.name == "mod")).one().active = True
        session.commit()

    # Revoked from the dashboard: refused on the next request.
    Dashboard(client).login()
    page = client.get("/dashboard/tokens/")
    with db.session() as session:
        token_id = session.scalars(select(UserToken.id)).one()
    revoked = client.post(f"/dashboard/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(page.text)})
    assert revoked.status_code == 302
    assert client.get(f"{API}/queues/review", headers=bearer(mod_token)).status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("reject", {}, 422, "code"),
        ("reject", {"code": "rude"}, 422, "code"),
        ("reject", {"code": "other"}, 422, "note"),
        ("approve", {"state": "approved|yesterday"}, 422, "state"),
        ("approve", {"note": 3}, 422, "note"),
        ("undo", {"decision_id": "x"}, 422, "decision_id"),
    ],
)
def test_bad_actions_get_a_4xx_naming_the_field(
    client, mod_token, queued_comment, site, path, body, status, field
):
    comment_id = queued_comment()
    answer = client.post(f"{API}/comments/{comment_id}/{path}", json=body, headers=bearer(mod_token))
    assert answer.status_code == status
    assert answer.get_json()["error"]["field"] == field
    assert site.status(comment_id) == "queued"


@pytest.mark.parametrize(
    ("query", "field"),
    [("label=rudeness", "label"), ("min_risk=2", "min_risk"), ("limit=0", "limit"), ("cursor=zz", "cursor")],
)
def test_bad_queue_filters_get_a_422_naming_the_field(client, mod_token, query, field):
    answer = client.get(f"{API}/queues/review?{query}", headers=bearer(mod_token))
    assert answer.status_code == 422 and answer.get_json()["error"]["field"] == field
    assert client.get(f"{API}/queues/nowhere", headers=bearer(mod_token)).status_code == 404
    plain = client.post(f"{API}/comments/1/approve", data="x", headers=bearer(mod_token))
    assert plain.status_code == 415


def test_the_queue_takes_the_dashboards_filters(client, mod_token, queued_comment):
    queued_comment("The mayor is hiding the audit.", article={"id": "audit", "title": "Audit"})
    other = queued_comment("Lovely photos of the parade.", article={"id": "parade", "title": "Parade"})
    found = client.get(f"{API}/queues/review?article=parade&q=photos", headers=bearer(mod_token)).get_json()
    assert [c["id"] for c in found["comments"]] == [other]


def test_a_ban_through_the_api_rejects_the_authors_waiting_comments(
    client, mod_token, queued_comment, db, site
):
    waiting = [queued_comment(f"Buy cheap watches {n}", author={"id": "spammer"}) for n in range(3)]
    author_id = client.get(f"{API}/comments/{waiting[0]}", headers=bearer(mod_token)).get_json()["author"][
        "id"
    ]
    answer = client.post(
        f"{API}/authors/{author_id}/standing",
        json={"action": "ban", "reject_waiting": True},
        headers=bearer(mod_token),
    )
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["author"]["banned"] is True and answer.get_json()["rejected"] == 3
    assert {site.status(i) for i in waiting} == {"rejected"}
    suspend = client.post(
        f"{API}/authors/{author_id}/standing", json={"action": "suspend"}, headers=bearer(mod_token)
    )
    assert suspend.status_code == 422 and suspend.get_json()["error"]["field"] == "until"
    with db.session() as session:
        ban = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "author")).one()
        assert ban.actor == "mod"


def test_the_token_page_shows_a_token_once_and_only_to_whom_it_concerns(client, make_user, db):
    make_user("mod")
    make_user("ann")
    make_user("boss", role="admin")
    make_user("ed", role="editor")
    dash = Dashboard(client)
    dash.login("mod")
    token = make_token(client, "Newsdesk bot")
    page = client.get("/dashboard/tokens/").text
    assert token not in page and "Newsdesk bot" in page and token[:12] in page
    empty = client.post("/dashboard/tokens/", data={"name": " ", "csrf_token": csrf_token(page)})
    assert empty.status_code == 400 and "needs a name" in empty.text
    with db.session() as session:
        mod_token_id = session.scalars(select(UserToken.id)).one()

    client.post("/dashboard/logout", data={"csrf_token": csrf_token(page)})
    dash.login("ann")
    page = client.get("/dashboard/tokens/").text
    assert "Newsdesk bot" not in page  # another moderator's tokens are not listed
    refused = client.post(f"/dashboard/tokens/{mod_token_id}/revoke", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 404

    client.post("/dashboard/logout", data={"csrf_token": csrf_token(page)})
    dash.login("ed")
    assert client.get("/dashboard/tokens/").status_code == 403  # editors have no moderation API

    client.post("/dashboard/logout", data={"csrf_token": csrf_token(client.get("/dashboard/welcome").text)})
    dash.login("boss")
    page = client.get("/dashboard/tokens/").text
    assert "Newsdesk bot" in page and ">mod<" in page
    client.post(f"/dashboard/tokens/{mod_token_id}/revoke", data={"csrf_token": csrf_token(page)})
    with db.session() as session:
        assert session.get(UserToken, mod_token_id).revoked_at is not None
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target_type == "user_token")
        ).all()
        assert actions == ["token.create", "token.revoke"]


def test_the_openapi_document_declares_the_moderation_api_with_personal_tokens(client):
    document = client.get("/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/moderation/queues/{name}"]["get"]
    assert operation["operationId"] == "moderation_queue"
    assert operation["security"] == [{"user_token": []}]
    assert {p["name"] for p in operation["parameters"]} >= {"name", "cursor", "limit", "label", "language"}
    assert document["components"]["securitySchemes"]["user_token"]["scheme"] == "bearer"
    reject = document["paths"]["/api/v1/moderation/comments/{comment_id}/reject"]["post"]
    assert "409" in reject["responses"]


def test_a_token_works_only_on_the_sites_its_moderator_moderates(client, db, mod_token, queued_comment):
    from sqlalchemy import select

    from service import accounts
    from service.models import User

    with db.session() as session:
        _, other_key = accounts.create_site(session, "Evening Post")
        mod = session.scalars(select(User).where(User.name == "mod")).one()
        accounts.set_user_sites(session, mod, [1])
        session.commit()
    ours = queued_comment("On the Gazette's story.")
    theirs = queued_comment("On the Evening Post's story.", key=other_key)
    page = client.get(f"{API}/queues/review", headers=bearer(mod_token)).get_json()
    assert [card["id"] for card in page["comments"]] == [ours]
    assert client.get(f"{API}/queues", headers=bearer(mod_token)).get_json()["queues"]["review"] == 1
    refused = client.post(f"{API}/comments/{theirs}/approve", json={}, headers=bearer(mod_token))
    assert refused.status_code == 404 and refused.get_json()["error"]["field"] == "id"
    assert client.get(f"{API}/comments/{theirs}", headers=bearer(mod_token)).status_code == 404
