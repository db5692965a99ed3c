"""The news site's view of the API: posting comments, idempotent retries, reading them back."""

from __future__ import annotations

import pytest

from service import moderation
from service.models import Comment


def test_post_comment_is_accepted_as_pending(site):
    response = site.post_comment("Good piece on the council vote.", external_id="c-1")

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending"
    assert body["external_id"] == "c-1"
    assert body["article_id"] == "story-1"
    assert body["author_id"] == "reader-1"
    assert body["decision"] is None
    assert site.get_comment(body["id"]).get_json()["body"] == "Good piece on the council vote."


def test_retry_with_same_external_id_returns_the_same_comment(site, db):
    first = site.post_comment("Same words twice.", external_id="retry-7")
    second = site.post_comment("Same words twice.", external_id="retry-7")

    assert (first.status_code, second.status_code) == (202, 200)
    assert first.get_json()["id"] == second.get_json()["id"]
    with db.session() as session:
        assert session.query(Comment).count() == 1


def test_reusing_an_external_id_for_other_words_is_a_conflict(site):
    site.post_comment("Original words.", external_id="dup")
    response = site.post_comment("Different words.", external_id="dup")

    assert response.status_code == 409
    assert response.get_json()["error"]["field"] == "external_id"


def test_articles_and_authors_are_created_on_first_sight_and_reused(site, db):
    site.post_comment("one", article={"id": 42, "title": "Budget", "url": "https://news.example/budget"})
    site.post_comment("two", article={"id": "42"}, author={"id": "reader-1", "name": "Lois"})

    with db.session() as session:
        comments = session.query(Comment).order_by(Comment.id).all()
        assert comments[0].article_id == comments[1].article_id
        assert comments[0].article.title == "Budget"  # a comment without a title leaves it alone
        assert comments[1].author.name == "Lois"
    # a later comment carrying new details updates them
    site.post_comment(
        "three", article={"id": 42, "title": "Budget passed"}, author={"id": "reader-1", "name": "L. Lane"}
    )
    with db.session() as session:
        third = session.query(Comment).order_by(Comment.id.desc()).first()
        assert (third.article.title, third.article.url) == ("Budget passed", "https://news.example/budget")
        assert third.author.name == "L. Lane" and third.author_id == comments[1].author_id


def test_reply_links_to_its_parent(site):
    parent = site.post_comment("Parent").get_json()["id"]
    reply = site.post_comment("Reply", parent_id=parent)

    assert reply.status_code == 202
    assert reply.get_json()["parent_id"] == parent


def _decide(db, settings, comment_id, toxicity, threat=None):
    scores = {"toxicity": toxicity} | ({"threat": threat} if threat is not None else {})
    with db.session() as session:
        result = moderation.ScorerResult("test", "1", scores)
        moderation.record_scores(session, comment_id, [result], settings)


def test_article_comments_lists_only_the_requested_status_with_cursor_pages(site, db, settings):
    ids = [site.post_comment(f"comment {i}").get_json()["id"] for i in range(5)]
    for comment_id in ids[:4]:
        _decide(db, settings, comment_id, 0.01)  # clearly clean: approved
    _decide(db, settings, ids[4], 0.999, threat=0.97)  # a clear threat: rejected

    url = "/api/v1/articles/story-1/comments?status=approved&limit=3"
    page1 = site.client.get(url, headers=site.headers()).get_json()
    page2 = site.client.get(f"{url}&cursor={page1['next_cursor']}", headers=site.headers()).get_json()

    assert [c["id"] for c in page1["comments"]] == ids[:3]
    assert [c["id"] for c in page2["comments"]] == ids[3:4]
    assert page2["next_cursor"] is None
    assert page1["article"]["title"] == "City budget"
    rejected = site.client.get("/api/v1/articles/story-1/comments?status=rejected", headers=site.headers())
    assert [c["id"] for c in rejected.get_json()["comments"]] == ids[4:]


def test_decided_comment_shows_scores_and_decision(site, db, settings):
    comment_id = site.post_comment("Nice.").get_json()["id"]
    _decide(db, settings, comment_id, 0.02)

    body = site.get_comment(comment_id).get_json()
    assert body["status"] == "approved"
    assert body["scores"] == {"test": {"model_version": "1", "toxicity": 0.02}}
    assert body["decision"]["by"] == "auto"
    assert "approve below" in body["decision"]["reason"]


def test_a_site_cannot_read_another_sites_comment(site, client, db):
    from service import accounts

    comment_id = site.post_comment("Mine.").get_json()["id"]
    with db.session() as session:
        _other, other_key = accounts.create_site(session, "Other Gazette")
        session.commit()
    response = client.get(f"/api/v1/comments/{comment_id}", headers={"Authorization": f"Bearer {other_key}"})
    assert response.status_code == 404


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readiness_fails_when_the_broker_is_unreachable(app_factory):
    app = app_factory(redis_url="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["broker"].startswith("error")


def test_readiness_fails_when_the_database_takes_reads_but_no_writes(app_factory, database_url):
    """A full or read-only disk still answers SELECT 1; /readyz writes, so it says not ready."""
    if not database_url.startswith("sqlite"):
        pytest.skip("a read-only connection is SQLite's to open; PostgreSQL's outage: test_faults")
    path = database_url.removeprefix("sqlite:///")
    app = app_factory(database_url=f"sqlite:///file:{path}?mode=ro&uri=true")
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"].startswith("error")


def test_a_comment_costs_two_sql_statements_or_six_from_a_new_author_on_a_new_article(site, db):
    """Ingest does only what it must: the author and the article (one statement) and the insert
    (which returns the row); a new author and article add one insert each, and a key and a site's
    webhooks this process has not looked up in the last seconds one query each."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert site.post_comment("A first comment on this story.").status_code == 202
        first = len(statements)
        statements.clear()
        assert site.post_comment("A second one, same author and story.").status_code == 202
        second = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert (first, second) == (6, 2), statements


def test_a_comment_costs_two_redis_round_trips_its_rate_limits_in_one(app_factory, site_key, monkeypatch):
    """The site's, the author's and the reader address's limits are counted in one round trip, the
    Celery message is the other; Flask-Limiter alone took one per limit."""
    from redis.connection import AbstractConnection

    from tests.conftest import SiteClient

    site = SiteClient(app_factory(rate_limit_author="5/minute").test_client(), site_key)
    assert site.post_comment("A first comment.", ip="203.0.113.9").status_code == 202
    sent: list[bytes] = []
    real_send = AbstractConnection.send_packed_command

    def send(self, command, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return real_send(self, command, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", send)
    assert site.post_comment("A second one.", ip="203.0.113.9").status_code == 202
    assert len(sent) == 2, sent
    assert b"EVALSHA" in sent[0].upper() and b"LPUSH" in sent[1].upper()
