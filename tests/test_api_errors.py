"""Bad input gets a 4xx JSON error naming the problem and the field, and saves nothing."""

from __future__ import annotations

import pytest

from service.models import Comment

VALID = {"article": {"id": "a1"}, "author": {"id": "u1"}, "body": "Hello"}


def assert_error(response, status: int, field: str | None = None, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "field", "details"}
    assert error["message"]
    if field is not None:
        assert error["field"] == field
    if code is not None:
        assert error["code"] == code
    return error


def comment_count(db) -> int:
    with db.session() as session:
        return session.query(Comment).count()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({k: v for k, v in VALID.items() if k != "body"}, "body"),
        ({k: v for k, v in VALID.items() if k != "article"}, "article"),
        ({**VALID, "article": {}}, "article.id"),
        ({**VALID, "author": {"name": "no id"}}, "author.id"),
        ({**VALID, "body": 12}, "body"),
        ({**VALID, "body": ""}, "body"),
        ({**VALID, "body": "   \n "}, "body"),
        ({**VALID, "body": "x" * 10_001}, "body"),
        ({**VALID, "body": "null byte \x00 here"}, "body"),
        ({**VALID, "article": "a1"}, "article"),
        ({**VALID, "article": {"id": True}}, "article.id"),
        ({**VALID, "author": {"id": "u" * 201}}, "author.id"),
        ({**VALID, "parent_id": "7"}, "parent_id"),
        ({**VALID, "parent_id": 999999}, "parent_id"),
        ({**VALID, "parent_id": -37450535022377496}, "parent_id"),
        ({**VALID, "parent_id": 2**40}, "parent_id"),
        ({**VALID, "ip": "not-an-ip"}, "ip"),
        ({**VALID, "external_id": ""}, "external_id"),
        ({**VALID, "body": "\u200b\u200c\u200d\u2060\ufeff \u200b"}, "body"),  # only invisible characters
    ],
)
def test_invalid_fields_are_named(site, db, payload, field):
    response = site.client.post("/api/v1/comments", json=payload, headers=site.headers())
    assert_error(response, 422, field=field, code="validation_error")
    assert comment_count(db) == 0


def test_every_problem_is_listed(site):
    response = site.client.post("/api/v1/comments", json={"body": 5}, headers=site.headers())
    error = assert_error(response, 422)
    assert {d["field"] for d in error["details"]} == {"article", "author", "body"}


def test_lone_surrogate_is_refused(site, db):
    raw = '{"article": {"id": "a"}, "author": {"id": "u"}, "body": "bad \\ud800 text"}'
    response = site.client.post(
        "/api/v1/comments", data=raw, content_type="application/json", headers=site.headers()
    )
    assert_error(response, 422, field="body")
    assert comment_count(db) == 0


def test_malformed_json(site, db):
    response = site.client.post(
        "/api/v1/comments", data='{"body": ', content_type="application/json", headers=site.headers()
    )
    assert_error(response, 400, code="invalid_json")
    assert comment_count(db) == 0


def test_json_that_is_not_an_object(site):
    response = site.client.post("/api/v1/comments", json=["body"], headers=site.headers())
    assert_error(response, 400, code="invalid_json")


def test_wrong_content_type(site):
    response = site.client.post("/api/v1/comments", data="body=hi", headers=site.headers())
    assert_error(response, 415, field="Content-Type")


def test_oversized_request(site, db):
    response = site.client.post(
        "/api/v1/comments",
        data='{"body": "' + "x" * 300_000 + '"}',
        content_type="application/json",
        headers=site.headers(),
    )
    assert_error(response, 413, code="payload_too_large")
    assert comment_count(db) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer stet_wrong"},
    ],
)
def test_missing_or_bad_key(client, site_key, db, headers):
    response = client.post("/api/v1/comments", json=VALID, headers=headers)
    assert_error(response, 401, field="Authorization", code="unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert comment_count(db) == 0


def test_unknown_comment(site):
    assert_error(site.get_comment(424242), 404, field="id", code="not_found")


def test_an_id_past_any_row_is_not_found_not_a_crash(site):
    response = site.client.get(f"/api/v1/comments/{2**40}", headers=site.headers())
    assert_error(response, 404)


def test_unknown_route_and_method_are_json(site):
    assert_error(site.client.get("/api/v1/nothing-here", headers=site.headers()), 404)
    wrong_method = site.client.delete("/api/v1/comments", headers=site.headers())
    assert_error(wrong_method, 405)
    assert set(wrong_method.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


@pytest.mark.parametrize("path", ["/api/v1/comments", "/v1alpha1/comments:analyze"])
def test_deeply_nested_json_is_refused_not_a_crash(site, db, path):
    body = "[" * 1000 + "]" * 1000
    answer = site.client.post(path, data=body, content_type="application/json", headers=site.headers())
    assert answer.status_code == 400
    assert comment_count(db) == 0
    nested = {**VALID, "author": {"id": "u1", "name": "[{" * 20 + "x"}}  # brackets in a string are text
    assert site.client.post("/api/v1/comments", json=nested, headers=site.headers()).status_code == 202


@pytest.mark.parametrize(
    "thresholds",
    [
        {"approve_below": 0, "reject_above": False},
        {"approve_below": "0.1", "reject_above": 0.9},
        {"approve_below": 0.5, "reject_above": 0.5},
        {"approve_below": 0.1, "reject_above": 0.9, "attributes": {"threat": {"queue_at": True}}},
    ],
)
def test_article_thresholds_are_numbers_in_order(site, thresholds):
    answer = site.client.put("/api/v1/articles/a1", json={"thresholds": thresholds}, headers=site.headers())
    assert_error(answer, 422)
    assert answer.get_json()["error"]["field"].startswith("thresholds")


def test_a_database_outage_is_a_503_with_retry_after_not_a_500(app_factory, site_key, tmp_path, caplog):
    import logging

    down = app_factory(database_url=f"sqlite:///{tmp_path}/no/such/folder/stet.db").test_client()
    with caplog.at_level(logging.ERROR):
        answer = down.post("/api/v1/comments", json=VALID, headers={"Authorization": f"Bearer {site_key}"})
        page = down.post("/dashboard/login", data={"name": "mod", "password": "x"})
    error = assert_error(answer, 503, code="unavailable")
    assert "nothing was saved" in error["message"]
    assert answer.headers["Retry-After"] == "5"
    assert page.status_code in (400, 503)  # the login form's CSRF check may answer first
    assert not any(record.exc_info for record in caplog.records), "a traceback per request"
    assert any("database unavailable" in record.getMessage() for record in caplog.records)


def test_unknown_article(site):
    response = site.client.get("/api/v1/articles/nope/comments", headers=site.headers())
    assert_error(response, 404, field="article_id")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=published", "status"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=Yzk5OTk5OTk5OTk5OTk5", "cursor"),  # "c99999999999999": past any row id
    ],
)
def test_bad_list_parameters(site, query, field):
    site.post_comment("so the article exists")
    response = site.client.get(f"/api/v1/articles/story-1/comments?{query}", headers=site.headers())
    assert_error(response, 400, field=field, code="invalid_parameter")


def test_an_article_id_that_could_never_be_read_back_is_refused(site, db):
    put = site.client.put("/api/v1/articles/story/comments", json={"title": "x"}, headers=site.headers())
    assert_error(put, 422, field="article_id")
    posted = site.client.post(
        "/api/v1/comments", json={**VALID, "article": {"id": "story/comments"}}, headers=site.headers()
    )
    assert_error(posted, 422, field="article.id")
    assert comment_count(db) == 0


def test_the_api_and_the_dashboard_can_be_served_apart(app_factory):
    """STET_SERVE=api keeps the moderators' login off the port news sites reach, and the other way."""
    api = app_factory(serve="api").test_client()
    assert api.get("/dashboard/login").status_code == 404
    assert api.get("/api/v1/comments/1").status_code == 401  # the API is there
    assert api.get("/healthz").status_code == 200

    dashboard = app_factory(serve="dashboard").test_client()
    assert dashboard.get("/dashboard/login").status_code == 200
    assert dashboard.get("/api/v1/comments/1").status_code == 404
    assert dashboard.get("/healthz").status_code == 200


def test_a_pooled_connection_the_database_dropped_while_idle_is_replaced_unseen(database_url, monkeypatch):
    """After a database restart, idle pooled connections are dead; one idle a while is pinged before
    it is handed out and replaced if dead, so the first request after the restart does not fail.
    (One in use moments ago is not pinged: a ping per request cost 6% of ingest's CPU.)"""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to drop")
    import time

    from sqlalchemy import create_engine, text

    from service import db as db_module

    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.2)
    database = db_module.Database(database_url)
    admin = create_engine(database_url)
    try:
        with database.engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        time.sleep(0.4)
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        database.engine.dispose()
        admin.dispose()
