"""A news site registers articles with their settings; closed articles and barred authors are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from service import moderation
from service.models import Article, AuditEntry, Author, Site, utcnow
from service.moderation import thresholds_for
from service.policy import DEFAULT_RULES
from tests.test_api_errors import assert_error


def put_article(site, article_id="story-1", **settings):
    return site.client.put(f"/api/v1/articles/{article_id}", json=settings, headers=site.headers())


def test_register_then_read_an_article(site):
    created = put_article(
        site,
        title="Flood defences",
        url="https://news.example/flood",
        section="local",
        comments_open=True,
        premoderation="links",
        thresholds={"approve_below": 0.05, "reject_above": 0.9},
    )
    assert created.status_code == 201
    shown = site.client.get("/api/v1/articles/story-1", headers=site.headers())
    assert shown.status_code == 200
    assert shown.get_json() == {
        "id": "story-1",
        "title": "Flood defences",
        "url": "https://news.example/flood",
        "section": "local",
        "comments_open": True,
        "premoderation": "links",
        "thresholds": {"approve_below": 0.05, "reject_above": 0.9, "attributes": None},
    }


def test_an_article_about_a_trial_holds_threats_sooner(site, db, settings):
    rules = {"threat": {"queue_at": 0.02}, "identity_attack": {"reject_at": None}}
    body = put_article(
        site, thresholds={"approve_below": 0.08, "reject_above": 0.97, "attributes": rules}
    ).get_json()
    assert body["thresholds"]["attributes"] == rules
    with db.session() as session:
        article = session.scalar(select(Article).where(Article.external_id == "story-1"))
        rules_now = thresholds_for(session.get(Site, article.site_id), settings, article).attributes
        assert (rules_now["threat"].queue_at, rules_now["threat"].reject_at) == (
            0.02,
            DEFAULT_RULES["threat"].reject_at,
        )
        assert rules_now["identity_attack"].reject_at is None
        assert rules_now["severe_toxicity"] == DEFAULT_RULES["severe_toxicity"]


def test_update_keeps_what_is_left_out_and_null_clears_thresholds(site, db):
    put_article(site, title="Budget", thresholds={"approve_below": 0.1, "reject_above": 0.5})
    updated = put_article(site, comments_open=False, thresholds=None)

    assert updated.status_code == 200
    body = updated.get_json()
    assert (body["title"], body["comments_open"], body["thresholds"]) == ("Budget", False, None)
    with db.session() as session:
        assert [
            e.action
            for e in session.query(AuditEntry).filter_by(target_type="article").order_by(AuditEntry.id)
        ] == [
            "article.created",
            "article.updated",
        ]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"thresholds": {"approve_below": 0.6, "reject_above": 0.4}}, "thresholds"),
        ({"thresholds": {"approve_below": -0.1, "reject_above": 0.4}}, "thresholds.approve_below"),
        ({"thresholds": {"approve_below": 0.1, "reject_above": 1.5}}, "thresholds.reject_above"),
        (
            {"thresholds": {"approve_below": 0.1, "reject_above": 0.9, "attributes": {"toxicity": {}}}},
            "thresholds.attributes.toxicity",
        ),
        (
            {
                "thresholds": {
                    "approve_below": 0.1,
                    "reject_above": 0.9,
                    "attributes": {"threat": {"queue_at": 2}},
                }
            },
            "thresholds.attributes.threat.queue_at",
        ),
        ({"premoderation": "sometimes"}, "premoderation"),
        ({"comments_open": "no"}, "comments_open"),
    ],
)
def test_bad_settings_are_refused(site, given, field):
    assert_error(put_article(site, **given), 422, field=field, code="validation_error")


def test_unknown_article_is_404(site):
    assert_error(site.client.get("/api/v1/articles/nope", headers=site.headers()), 404, code="not_found")


def test_closed_article_refuses_new_comments_but_not_a_retry(site):
    first = site.post_comment("Before closing.", external_id="c-1")
    put_article(site, comments_open=False)

    refused = site.post_comment("After closing.")
    assert_error(refused, 409, field="article.id", code="comments_closed")
    assert "closed" in refused.get_json()["error"]["message"]
    retry = site.post_comment("Before closing.", external_id="c-1")
    assert (retry.status_code, retry.get_json()["id"]) == (200, first.get_json()["id"])


def _author(db, **standing):
    with db.session() as session:
        author = session.query(Author).filter_by(external_id="reader-1").one()
        for name, value in standing.items():
            setattr(author, name, value)
        session.commit()


def test_banned_and_suspended_authors_are_refused(site, db):
    site.post_comment("My first comment.")
    _author(db, banned=True)
    assert_error(site.post_comment("Again."), 403, field="author.id", code="author_banned")

    _author(db, banned=False, suspended_until=utcnow() + timedelta(days=1))
    assert_error(site.post_comment("Again."), 403, code="author_suspended")

    _author(db, suspended_until=utcnow() - timedelta(minutes=1))
    assert site.post_comment("Suspension over.").status_code == 202


def test_premoderated_article_queues_a_harmless_comment(site, db, settings):
    put_article(site, premoderation="all")
    comment_id = site.post_comment("Lovely weather for the parade.").get_json()["id"]

    with db.session() as session:
        result = moderation.ScorerResult("test", "1", {"toxicity": 0.0})
        comment = moderation.record_scores(session, comment_id, [result], settings)
        assert comment.status == "queued"
        assert session.query(Article).one().premoderation == "all"


def test_an_article_rule_that_does_not_fit_its_site_is_refused_and_never_blocks_a_decision(
    site, db, settings
):
    above = {"approve_below": 0.08, "reject_above": 0.97, "attributes": {"threat": {"queue_at": 0.95}}}
    refused = put_article(site, thresholds=above)  # the installation rejects threats from 0.9
    assert_error(refused, 422, field="thresholds.attributes", code="validation_error")
    fits = {"approve_below": 0.08, "reject_above": 0.97, "attributes": {"threat": {"queue_at": 0.5}}}
    assert put_article(site, thresholds=fits).status_code == 201
    with (
        db.session() as session
    ):  # later the site rejects threats from 0.3: the article's rule no longer fits
        own = session.get(Site, 1)
        own.attribute_thresholds = {"threat": {"queue_at": 0.1, "reject_at": 0.3}}
        session.commit()
        article = session.scalar(select(Article).where(Article.external_id == "story-1"))
        rules = thresholds_for(own, settings, article).attributes
        assert (rules["threat"].queue_at, rules["threat"].reject_at) == (0.1, 0.3)  # the site's, not a crash
