"""The moderators' dashboard through Flask's test client: login, the queue, approve and reject."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select

import dashboard
from service.models import AuditEntry, Decision, User

pytestmark = pytest.mark.usefixtures("fast_passwords")  # many logins; not about the hash

HTMX = {"HX-Request": "true"}


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


class Dashboard:
    """What a moderator does in the dashboard, so tests read like their session."""

    def __init__(self, client):
        self.client = client

    def login(self, name: str = "mod", password: str = "correct horse battery", next: str | None = None):
        token = csrf_token(self.client.get("/dashboard/login").text)
        data = {"name": name, "password": password, "csrf_token": token}
        if next is not None:
            data["next"] = next
        return self.client.post("/dashboard/login", data=data)

    def queue(self):
        return self.client.get("/dashboard/")

    def decide(
        self, comment_id: int, action: str = "approve", htmx: bool = True, token: bool = True, **form: str
    ):
        data = {"csrf_token": csrf_token(self.queue().text)} if token else {}
        if action == "reject":
            data["code"] = "offensive"
        data.update(form)
        headers = HTMX if htmx else {}
        return self.client.post(f"/dashboard/comments/{comment_id}/{action}", data=data, headers=headers)


@pytest.fixture
def moderator(client, make_user):
    """A logged-in moderator named "mod"."""
    make_user("mod")
    dash = Dashboard(client)
    assert dash.login().status_code == 302
    return dash


def moderator_decisions(db, comment_id: int):
    with db.session() as session:
        rows = session.execute(
            select(Decision.status, Decision.user_id, User.name)
            .join(User)
            .where(Decision.comment_id == comment_id, Decision.by == "moderator")
        )
        return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/dashboard/"), ("post", "/dashboard/comments/1/approve"), ("post", "/dashboard/logout")],
)
def test_anonymous_is_sent_to_login(client, method: str, path: str):
    token = csrf_token(client.get("/dashboard/login").text)
    response = getattr(client, method)(path, data={"csrf_token": token} if method == "post" else None)
    assert response.status_code == 302
    # Only a page (GET) is worth coming back to after logging in.
    expected = "/dashboard/login?next=/dashboard/" if method == "get" else "/dashboard/login"
    assert response.headers["Location"] == expected


def test_wrong_password_shows_an_error(client, make_user):
    make_user("mod")
    response = Dashboard(client).login(password="not the password")
    assert response.status_code == 401
    assert "Wrong name or password." in response.text
    assert 'value="mod"' in response.text
    assert client.get("/dashboard/").status_code == 302


def test_an_inactive_user_cannot_log_in_or_stay_logged_in(moderator, db):
    with db.session() as session:
        session.scalars(select(User).where(User.name == "mod")).one().active = False
        session.commit()
    assert moderator.queue().status_code == 302
    assert "Wrong name or password." in moderator.login().text


def test_moderator_logs_in_and_out(client, make_user):
    make_user("mod")
    dash = Dashboard(client)
    response = dash.login()
    assert response.headers["Location"] == "/dashboard/"
    page = dash.queue()
    assert page.status_code == 200
    assert "mod" in page.text and "Log out" in page.text
    response = client.post("/dashboard/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.headers["Location"] == "/dashboard/login"
    assert "You have logged out." in client.get("/dashboard/login").text
    assert dash.queue().status_code == 302


@pytest.mark.parametrize(
    ("next", "location"),
    [
        ("/dashboard/?page=2", "/dashboard/?page=2"),
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/", "/dashboard/"),
        ("/\\evil.example/", "/dashboard/"),
        ("/\t/evil.example/", "/dashboard/"),
    ],
)
def test_login_returns_only_to_local_paths(client, make_user, next: str, location: str):
    make_user("mod")
    assert Dashboard(client).login(next=next).headers["Location"] == location


def test_queue_lists_queued_comments_most_toxic_first(moderator, queued_comment, site):
    mild = queued_comment("A mild complaint.", toxicity=0.35)
    harsh = queued_comment(
        "A harsh complaint.",
        toxicity=0.9,
        article={"id": "story-2", "title": "Bridge closure", "url": "https://planet.example/bridge"},
        author={"id": "reader-7", "name": "Lois"},
    )
    approved = site.post_comment("Not in the queue.").get_json()["id"]  # still pending: no worker
    page = moderator.queue().text
    assert 'data-queue="review">2<' in page
    assert page.index(f'id="comment-{harsh}"') < page.index(f'id="comment-{mild}"')
    assert f'id="comment-{approved}"' not in page
    assert "Bridge closure" in page and 'href="https://planet.example/bridge"' in page
    assert "City budget" in page and "Lois" in page and "reader-7" in page and "reader-1" in page
    assert "0.90" in page and "0.35" in page and "width: 90.0%" in page
    assert "0.08 ≤ toxicity" in page or "toxicity" in page


def test_empty_queue_says_so(moderator):
    assert "Nothing waiting — the queue is clear." in moderator.queue().text


def test_approve_with_htmx_returns_the_decided_card(moderator, queued_comment, site, db):
    comment_id = queued_comment()
    response = moderator.decide(comment_id, "approve")
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert f'id="comment-{comment_id}"' in response.text and "Approved by mod" in response.text
    assert "<html" not in response.text  # a fragment, not a page
    [(status, user_id, name)] = moderator_decisions(db, comment_id)
    assert (status, name) == ("approved", "mod") and user_id is not None
    comment = site.get_comment(comment_id).get_json()
    assert comment["status"] == "approved"
    assert comment["decision"]["by"] == "moderator" and comment["decision"]["moderator"] == "mod"
    assert f'id="comment-{comment_id}"' not in moderator.queue().text


def test_reject_without_htmx_goes_back_to_the_queue(moderator, queued_comment, site):
    comment_id = queued_comment()
    response = moderator.decide(comment_id, "reject", htmx=False)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard/"
    assert f"Comment {comment_id}: Rejected by mod" in moderator.queue().text
    assert site.status(comment_id) == "rejected"


def test_a_post_without_csrf_token_is_refused(moderator, queued_comment, site, db):
    comment_id = queued_comment()
    response = moderator.decide(comment_id, "approve", token=False)
    assert response.status_code == 400
    assert site.status(comment_id) == "queued"
    assert moderator_decisions(db, comment_id) == []


def test_an_already_decided_comment_is_not_decided_twice(moderator, client, make_user, queued_comment, db):
    comment_id = queued_comment()
    assert moderator.decide(comment_id, "approve").status_code == 200
    client.post("/dashboard/logout", data={"csrf_token": csrf_token(moderator.queue().text)})
    make_user("alice")
    moderator.login("alice")
    response = moderator.decide(comment_id, "reject")
    assert response.status_code == 409
    assert "Already approved by mod — your decision was not applied." in response.text
    [(status, _user_id, name)] = moderator_decisions(db, comment_id)
    assert (status, name) == ("approved", "mod")


def test_a_missing_comment_is_404(moderator):
    assert moderator.decide(999_999).status_code == 404


def test_user_text_is_escaped(moderator, queued_comment):
    script, img = "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"
    comment_id = queued_comment(
        script + img,
        article={"id": "story-x", "title": img, "url": "javascript:alert(1)"},
        author={"id": "reader-x", "name": script},
    )
    page = moderator.queue().text
    assert script not in page and img not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "javascript:" not in page  # an article URL that is not http(s) is not linked
    fragment = moderator.decide(comment_id).text
    assert script not in fragment and "&lt;script&gt;" in fragment


def test_htmx_is_served_from_the_npm_package(client):
    with client.get("/dashboard/static/vendor/htmx.min.js") as response:
        assert response.status_code == 200, "run `npm ci` in dashboard/"
        assert b"htmx" in response.data[:200]
    with client.get("/dashboard/static/stet.css") as response:
        assert response.status_code == 200


def test_pages_render_without_htmx(monkeypatch, app_factory, tmp_path: Path, caplog):
    monkeypatch.setattr(dashboard, "HTMX_DIST", tmp_path)
    with caplog.at_level(logging.WARNING):
        app = app_factory()
    assert "npm ci" in caplog.text
    client = app.test_client()
    assert client.get("/dashboard/login").status_code == 200
    assert client.get("/dashboard/static/vendor/htmx.min.js").status_code == 404


def test_guessing_one_accounts_password_is_slowed_down_from_any_address(client, app, make_user):
    password = make_user("mod")
    for n in range(5):  # each guess from another address
        answer = client.post(
            "/dashboard/login",
            data={
                "name": "mod",
                "password": "a wrong guess",
                "csrf_token": csrf_token(client.get("/dashboard/login").text),
            },
            environ_base={"REMOTE_ADDR": f"198.51.100.{n}"},
        )
        assert answer.status_code == 401

    blocked = Dashboard(client).login("mod", password)

    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.text
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert client.get("/dashboard/").status_code == 302  # still logged out
    assert Dashboard(client).login("someone-else", "x").status_code == 401  # other accounts still try


def test_guessing_from_one_address_is_slowed_down_across_accounts(client, make_user):
    make_user("mod")
    dash = Dashboard(client)
    for n in range(10):
        assert dash.login(f"user-{n}", "a wrong guess").status_code == 401
    blocked = dash.login("mod", "correct horse battery")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_an_unknown_name_costs_one_hash_check_like_a_known_one(db, make_user, monkeypatch):
    from service import accounts

    make_user("mod")
    checks, hashes = [], []
    real_check, real_hash = accounts.check_password_hash, accounts.generate_password_hash
    monkeypatch.setattr(accounts, "check_password_hash", lambda *a: checks.append(1) or real_check(*a))
    accounts._unknown_user_hash()  # made once, when the first unknown name arrives
    monkeypatch.setattr(
        accounts, "generate_password_hash", lambda *a, **k: hashes.append(1) or real_hash(*a, **k)
    )
    with db.session() as session:
        assert accounts.authenticate(session, "nobody", "guess") is None
        assert accounts.authenticate(session, "mod", "guess") is None
    assert checks == [1, 1] and hashes == []


def test_an_expired_token_makes_htmx_reload_the_page(moderator, queued_comment):
    comment_id = queued_comment()
    response = moderator.decide(comment_id, token=False)  # as after the session expired

    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"


@pytest.mark.parametrize(
    "path", ["/dashboard/login", "/api/v1/openapi.json", "/healthz", "/api/v1/comments/1"]
)
def test_every_answer_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_no_template_carries_inline_script():
    """The CSP forbids inline script: every script is a file, every handler lives in keys.js."""
    templates = Path(dashboard.__file__).parent / "templates"
    for template in templates.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"\son[a-z]+=", text), template


@pytest.mark.parametrize(
    ("back", "location"),
    [
        ("/dashboard/queues/all", "/dashboard/queues/all"),
        ("https://evil.example/", "/dashboard/"),
        ("//evil.example/", "/dashboard/"),
    ],
)
def test_a_plain_decision_returns_only_to_a_page_of_this_site(moderator, queued_comment, back, location):
    comment_id = queued_comment()
    answer = moderator.decide(comment_id, htmx=False, back=back)
    assert answer.status_code == 302 and answer.headers["Location"] == location


def test_logging_out_ends_the_session_even_for_a_copied_cookie(moderator, client):
    copied = client.get_cookie("session").value
    page = moderator.queue()
    client.post("/dashboard/logout", data={"csrf_token": csrf_token(page.text)})
    client.set_cookie("session", copied)  # an attacker replays the cookie captured before logout
    assert moderator.queue().status_code == 302


def test_a_role_change_or_new_password_ends_the_users_sessions(moderator, client, db, runner, make_user):
    from service import accounts

    make_user("boss", role="admin")
    with db.session() as session:
        mod = session.scalars(select(User).where(User.name == "mod")).one()
        boss = session.scalars(select(User).where(User.name == "boss")).one()
        accounts.change_user(session, mod, boss, role=accounts.Role.EDITOR)
        session.commit()
    assert moderator.queue().status_code == 302  # logged out: log in again as an editor
    assert moderator.login().status_code == 302

    result = runner("user", "password", "mod", input="a brand new passphrase\n")
    assert result.exit_code == 0, result.output
    assert client.get("/dashboard/welcome").status_code == 302
    assert moderator.login(password="correct horse battery").status_code == 401
    assert moderator.login(password="a brand new passphrase").status_code == 302
    with db.session() as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "user.password")).all()
