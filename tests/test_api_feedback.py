"""Readers tell the newsroom that commenting is broken."""

from __future__ import annotations

from service.models import Feedback
from tests.test_api_errors import assert_error


def test_feedback_is_stored_with_its_article(site, db):
    site.post_comment("Hello")  # registers story-1
    response = site.client.post(
        "/api/v1/feedback",
        json={
            "category": "cannot_post",
            "message": "The button spins forever",
            "article_id": "story-1",
            "reader_id": "reader-4",
        },
        headers=site.headers(),
    )
    assert response.status_code == 201
    assert response.get_json()["article_id"] == "story-1"
    with db.session() as session:
        stored = session.query(Feedback).one()
        assert (stored.category, stored.message, stored.reader_id) == (
            "cannot_post",
            "The button spins forever",
            "reader-4",
        )
        assert stored.article_id is not None


def test_unknown_category_is_refused(site, db):
    response = site.client.post("/api/v1/feedback", json={"category": "angry"}, headers=site.headers())
    assert_error(response, 422, field="category")
    with db.session() as session:
        assert session.query(Feedback).count() == 0
