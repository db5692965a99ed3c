"""Readers report comments: one report each, the Reported queue, hiding an approved comment."""

from __future__ import annotations

from sqlalchemy import select

from service import moderation, webhooks
from service.models import Comment, Report, Site, WebhookDelivery
from tests.test_api_errors import assert_error


def report(site, comment_id, reporter="reader-9", reason="abusive", **fields):
    payload = {"reporter_id": reporter, "reason": reason, **fields}
    return site.client.post(f"/api/v1/comments/{comment_id}/reports", json=payload, headers=site.headers())


def approved_comment(site, db, settings) -> int:
    comment_id = site.post_comment("An approved remark.").get_json()["id"]
    with db.session() as session:
        result = moderation.ScorerResult("test", "1", {"toxicity": 0.01})
        assert moderation.record_scores(session, comment_id, [result], settings).status == "approved"
    return comment_id


def test_a_report_puts_the_comment_in_the_reported_queue(site, db, settings):
    comment_id = approved_comment(site, db, settings)

    response = report(site, comment_id, note="Name-calling")
    assert response.status_code == 201
    body = response.get_json()
    assert (body["reason"], body["note"], body["comment_hidden"]) == ("abusive", "Name-calling", False)
    with db.session() as session:
        reported = session.scalars(select(Comment.id).where(Comment.reported_at.is_not(None))).all()
        assert reported == [comment_id]
        assert session.get(Comment, comment_id).report_weight == 1.0


def test_one_report_per_reader(site, db, settings):
    comment_id = approved_comment(site, db, settings)
    report(site, comment_id)

    assert_error(report(site, comment_id, reason="spam"), 409, code="duplicate_report")
    with db.session() as session:
        assert session.query(Report).count() == 1


def test_enough_reports_hide_an_approved_comment_and_the_list_says_so(site, db, settings):
    comment_id = approved_comment(site, db, settings)
    with db.session() as session:
        session.query(Site).one().report_hide_weight = 2
        session.commit()

    assert report(site, comment_id, reporter="a").get_json()["comment_hidden"] is False
    assert report(site, comment_id, reporter="b").get_json()["comment_hidden"] is True
    listed = site.client.get("/api/v1/articles/story-1/comments", headers=site.headers()).get_json()
    assert [(c["id"], c["hidden"]) for c in listed["comments"]] == [(comment_id, True)]


def test_reports_on_a_queued_comment_do_not_hide_it(site, db, queued_comment):
    comment_id = queued_comment()
    for reporter in ("a", "b", "c", "d"):
        report(site, comment_id, reporter=reporter)
    with db.session() as session:
        comment = session.get(Comment, comment_id)
        assert (comment.report_weight, comment.hidden) == (4.0, False)


def test_a_report_emits_comment_reported_to_subscribed_webhooks(site, db, settings):
    comment_id = approved_comment(site, db, settings)
    with db.session() as session:
        webhooks.add(
            session,
            session.query(Site).one(),
            "http://127.0.0.1:9/hook",
            ["comment.reported"],
            "test",
            allow_private=True,
        )
        session.commit()
    report(site, comment_id)
    with db.session() as session:
        delivery = session.query(WebhookDelivery).one()
        assert delivery.event == "comment.reported"
        assert delivery.payload["data"]["comment_id"] == comment_id


def test_bad_reports_are_refused(site, db, settings):
    comment_id = approved_comment(site, db, settings)
    assert_error(report(site, comment_id, reason="boring"), 422, field="reason")
    assert_error(report(site, comment_id, reporter=""), 422, field="reporter_id")
    assert_error(report(site, 999999), 404, field="comment_id")
