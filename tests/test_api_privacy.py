"""An author's data: exported as JSON, erased per the site's setting, and audited."""

from __future__ import annotations

import pytest

from service.models import AuditEntry, Author, Comment, Site
from tests.test_api_errors import assert_error


def test_export_lists_the_authors_comments_and_reports(site, db):
    posted = site.post_comment("Mine.", ip="203.0.113.5").get_json()["id"]
    other = site.post_comment("Theirs.", author={"id": "reader-2"}).get_json()["id"]
    site.client.post(
        f"/api/v1/comments/{other}/reports",
        json={"reporter_id": "reader-1", "reason": "spam"},
        headers=site.headers(),
    )

    data = site.client.get("/api/v1/authors/reader-1", headers=site.headers()).get_json()
    assert data["author"]["id"] == "reader-1"
    assert [(c["id"], c["body"], c["ip"]) for c in data["comments"]] == [(posted, "Mine.", "203.0.113.5")]
    assert [r["comment_id"] for r in data["reports_made"]] == [other]
    with db.session() as session:
        assert session.query(AuditEntry).filter_by(action="author.exported").count() == 1


@pytest.mark.parametrize("mode", ["anonymise", "remove"])
def test_erasure_follows_the_site_setting(site, db, mode):
    with db.session() as session:
        session.query(Site).one().erasure = mode
        session.commit()
    site.post_comment("Something I regret.", author={"id": "reader-1", "name": "Lois"}, ip="203.0.113.5")
    site.post_comment("Someone else's.", author={"id": "reader-2"})

    response = site.client.delete("/api/v1/authors/reader-1", headers=site.headers())
    assert response.get_json() == {"author_id": "reader-1", "mode": mode, "comments": 1}
    assert_error(site.client.get("/api/v1/authors/reader-1", headers=site.headers()), 404)
    with db.session() as session:
        bodies = sorted(c.body for c in session.query(Comment))
        if mode == "anonymise":
            assert bodies == ["Someone else's.", "Something I regret."]
            kept = session.query(Comment).filter_by(body="Something I regret.").one()
            assert (
                kept.ip is None and kept.author.name is None and kept.author.external_id.startswith("erased-")
            )
        else:
            assert bodies == ["Someone else's."]
            assert [a.external_id for a in session.query(Author)] == ["reader-2"]
        entry = session.query(AuditEntry).filter_by(action="author.erased").one()
        assert entry.after == {"mode": mode, "comments": 1}
        assert "reader-1" not in str(entry.target_id)
