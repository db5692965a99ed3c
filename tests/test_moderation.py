"""Moderator and admin actions in the domain: decisions, races, undo, reports, claims, standing, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from service import accounts, moderation, policy
from service.models import (
    ApiKey,
    AuditEntry,
    Author,
    Comment,
    Decision,
    Label,
    Report,
    Role,
    Site,
    Status,
    User,
    WebhookDelivery,
    WordKind,
    utcnow,
)
from service.moderation import (
    ModerationError,
    RejectCode,
    Seen,
    Standing,
    claim,
    in_effect,
    moderate,
    reject_waiting,
    set_standing,
    standing,
    undo,
)

pytestmark = pytest.mark.usefixtures("fast_passwords")  # users in every test; not about the hash


@pytest.fixture
def session(db, make_user):
    make_user("mod")
    make_user("alice")
    with db.session() as session:
        yield session


def user(session, name: str = "mod") -> User:
    return session.scalars(select(User).where(User.name == name)).one()


def audit_actions(session, target_id: int, target_type: str = "comment") -> list[str]:
    rows = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id))
        .order_by(AuditEntry.id)
    )
    return list(rows)


def test_approving_a_queued_comment_records_decision_label_and_audit(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    decision = moderate(session, comment, user(session), Status.APPROVED)
    session.expire_all()
    assert comment.status == "approved" and comment.decided_at is not None
    assert (decision.from_status, decision.status, decision.by) == ("queued", "approved", "moderator")
    [label] = session.scalars(select(Label).where(Label.comment_id == comment.id)).all()
    assert (label.attribute, label.value, label.source) == ("acceptable", 1.0, "moderator")
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "comment.approved")).all()
    assert (entry.actor, entry.before["status"], entry.after["status"]) == ("mod", "queued", "approved")


def test_a_rejection_needs_a_reason_code_and_other_needs_a_note(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    with pytest.raises(ModerationError, match="reason code"):
        moderate(session, comment, user(session), Status.REJECTED)
    with pytest.raises(ModerationError, match="other"):
        moderate(session, comment, user(session), Status.REJECTED, "  ", code=RejectCode.OTHER)
    decision = moderate(session, comment, user(session), Status.REJECTED, "doxxing", code=RejectCode.OTHER)
    assert decision.reason == "rejected (other): doxxing"
    assert decision.details["code"] == "other" and decision.details["note"] == "doxxing"
    assert session.get(Comment, comment.id).status == "rejected"


def test_two_moderators_racing_decide_once(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    seen = Seen.of(comment)  # both opened the card while it was queued
    moderate(session, comment, user(session, "mod"), Status.APPROVED, seen=seen)
    with pytest.raises(ModerationError, match="^already approved by mod$"):
        moderate(session, comment, user(session, "alice"), Status.REJECTED, code=RejectCode.SPAM, seen=seen)
    decisions = session.scalars(
        select(Decision).where(Decision.comment_id == comment.id, Decision.by == "moderator")
    )
    assert [(d.status, d.user.name) for d in decisions] == [("approved", "mod")]
    assert audit_actions(session, comment.id) == ["comment.approved"]


def test_a_pending_comment_cannot_be_decided(session, site):
    comment_id = site.post_comment("Not scored yet.").get_json()["id"]
    comment = session.get(Comment, comment_id)
    with pytest.raises(ModerationError, match="not been scored"):
        moderate(session, comment, user(session), Status.APPROVED)


def test_approving_a_reported_comment_dismisses_its_reports_and_unhides_it(session, scored_comment):
    comment_id = scored_comment("Fine by the policy.", scores={"toxicity": 0.01}, reports=3)
    comment = session.get(Comment, comment_id)
    assert (comment.status, comment.hidden, comment.report_weight) == ("approved", True, 3.0)
    moderate(session, comment, user(session), Status.APPROVED)
    session.expire_all()
    assert (comment.reported_at, comment.report_weight, comment.hidden) == (None, 0.0, False)
    reports = session.scalars(select(Report).where(Report.comment_id == comment_id)).all()
    assert {r.resolution for r in reports} == {"dismissed"} and all(r.resolved_at for r in reports)


def test_rejecting_a_reported_comment_upholds_its_reports(session, scored_comment):
    comment = session.get(Comment, scored_comment(scores={"toxicity": 0.01}, reports=1))
    moderate(session, comment, user(session), Status.REJECTED, code=RejectCode.HARASSMENT)
    assert session.scalars(select(Report.resolution)).all() == ["upheld"]
    assert session.get(Comment, comment.id).status == "rejected"


def test_a_second_dismissal_of_the_same_reports_is_refused(session, scored_comment):
    comment = session.get(Comment, scored_comment(scores={"toxicity": 0.01}, reports=2))
    seen = Seen.of(comment)
    moderate(session, comment, user(session, "mod"), Status.APPROVED, seen=seen)
    with pytest.raises(ModerationError, match="^already approved by mod$"):
        moderate(session, comment, user(session, "alice"), Status.APPROVED, seen=seen)
    assert audit_actions(session, comment.id)[-1] == "comment.approved"
    assert audit_actions(session, comment.id).count("comment.approved") == 1


def test_an_auto_rejection_can_be_overturned_or_confirmed_once(session, scored_comment):
    overturned = session.get(
        Comment, scored_comment("Rejected by the model.", scores={"toxicity": 0.99, "threat": 0.95})
    )
    confirmed = session.get(
        Comment, scored_comment("Also rejected.", scores={"toxicity": 0.99, "threat": 0.95})
    )
    assert overturned.status == confirmed.status == "rejected"
    moderate(session, overturned, user(session), Status.APPROVED)
    assert session.get(Comment, overturned.id).status == "approved"
    moderate(session, confirmed, user(session), Status.REJECTED, code=RejectCode.ABUSIVE)
    with pytest.raises(ModerationError, match="^already rejected by mod$"):
        moderate(session, confirmed, user(session, "alice"), Status.REJECTED, code=RejectCode.ABUSIVE)


def test_undo_goes_back_and_is_itself_audited(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    decision = moderate(session, comment, user(session), Status.REJECTED, code=RejectCode.SPAM)
    back = undo(session, comment, user(session), decision.id)
    session.expire_all()
    assert comment.status == "queued" and comment.decided_at is None
    assert (back.from_status, back.status, back.details["undo_of"]) == ("rejected", "queued", decision.id)
    assert back.details["restored_by"] == "auto"  # the policy queued it
    assert session.scalars(select(Label).where(Label.comment_id == comment.id)).all() == []
    assert audit_actions(session, comment.id) == ["comment.rejected", "comment.undo"]
    with pytest.raises(ModerationError):  # an undo is not undone, and the old decision is gone
        undo(session, comment, user(session), back.id)
    # Back in the queue, it can be decided again, as anyone who saw it queued expected.
    moderate(session, comment, user(session, "alice"), Status.APPROVED, seen=Seen("queued", None))
    assert session.get(Comment, comment.id).status == "approved"


def queue_of(session, comment_id: int) -> list[str]:
    """The dashboard queues that hold the comment now."""
    from service.moderation import queues

    return [q.value for q in queues.Queue if comment_id in queues.page(session, q, queues.Filters()).ids]


def test_undo_returns_an_auto_rejected_comment_to_the_auto_rejected_queue(session, scored_comment):
    comment = session.get(
        Comment, scored_comment("Rejected by the model.", scores={"toxicity": 0.99, "threat": 0.95})
    )
    assert queue_of(session, comment.id) == ["auto-rejected", "rejected", "all"]
    for _ in range(2):  # overturned and undone, twice: still the policy's rejection
        approval = moderate(session, comment, user(session), Status.APPROVED)
        assert queue_of(session, comment.id) == ["approved", "all"]
        undo(session, comment, user(session), approval.id)
        assert queue_of(session, comment.id) == ["auto-rejected", "rejected", "all"]
    assert in_effect(session.get(Comment, comment.id).decisions).by == "auto"
    # Confirming the policy is still possible, and takes it out of Auto-rejected (until undone).
    confirmed = moderate(session, comment, user(session, "alice"), Status.REJECTED, code=RejectCode.ABUSIVE)
    assert queue_of(session, comment.id) == ["rejected", "all"]
    undo(session, comment, user(session, "alice"), confirmed.id)
    assert queue_of(session, comment.id) == ["auto-rejected", "rejected", "all"]


def test_undo_returns_a_moderators_rejection_to_rejected_only(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    moderate(session, comment, user(session), Status.REJECTED, code=RejectCode.SPAM)
    approval = moderate(session, comment, user(session, "alice"), Status.APPROVED)
    undo(session, comment, user(session, "alice"), approval.id)
    assert queue_of(session, comment.id) == ["rejected", "all"]
    assert in_effect(session.get(Comment, comment.id).decisions).user.name == "mod"


def test_undo_reopens_the_reports_it_resolved(session, scored_comment):
    comment = session.get(Comment, scored_comment(scores={"toxicity": 0.01}, reports=3))
    reported_at = comment.reported_at
    decision = moderate(session, comment, user(session), Status.REJECTED, code=RejectCode.ABUSIVE)
    undo(session, comment, user(session), decision.id)
    session.expire_all()
    assert (comment.status, comment.report_weight, comment.hidden) == ("approved", 3.0, True)
    assert comment.reported_at == reported_at
    assert session.scalars(select(Report.resolution)).all() == [None, None, None]


def test_undo_after_someone_else_decided_is_refused(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    first = moderate(session, comment, user(session, "mod"), Status.APPROVED)
    moderate(session, comment, user(session, "alice"), Status.REJECTED, code=RejectCode.SPAM)
    with pytest.raises(ModerationError, match="already rejected by alice"):
        undo(session, comment, user(session, "mod"), first.id)
    assert session.get(Comment, comment.id).status == "rejected"


def test_claims_hold_a_comment_for_one_moderator_until_they_expire(session, queued_comment):
    comment = session.get(Comment, queued_comment())
    assert claim(session, comment, user(session, "mod")).name == "mod"
    assert claim(session, comment, user(session, "alice")).name == "mod"
    comment.claimed_until = utcnow() - timedelta(seconds=1)
    session.commit()
    assert claim(session, comment, user(session, "alice")).name == "alice"
    moderate(session, comment, user(session, "mod"), Status.APPROVED)  # a claim does not block others
    assert session.get(Comment, comment.id).claimed_by is None


def test_author_standing_changes_are_audited_and_exclusive(session, queued_comment):
    author = session.get(Comment, queued_comment()).author
    set_standing(session, author, user(session), Standing.TRUST)
    assert author.trusted
    set_standing(session, author, user(session), Standing.BAN)
    assert author.banned and not author.trusted
    with pytest.raises(ModerationError, match="lift the ban"):
        set_standing(session, author, user(session), Standing.TRUST)
    with pytest.raises(ModerationError, match="future"):
        set_standing(session, author, user(session), Standing.SUSPEND, utcnow() - timedelta(days=1))
    until = utcnow() + timedelta(days=3)
    set_standing(session, author, user(session), Standing.SUSPEND, until)
    set_standing(session, author, user(session), Standing.UNBAN)
    session.expire_all()
    author = session.get(Author, author.id)
    assert (author.banned, author.suspended_until) == (False, until)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.target_type == "author")).all()
    assert [e.action for e in entries] == ["author.trust", "author.ban", "author.suspend", "author.unban"]
    assert (entries[1].before["banned"], entries[1].after["banned"]) == (False, True)


def test_banning_rejects_the_authors_waiting_comments_as_moderator_decisions(
    session, db, queued_comment, scored_comment, site, settings, monkeypatch
):
    from service import webhooks

    troll = {"id": "troll-1", "name": "Troll"}
    webhooks.add(session, session.scalars(select(Site)).one(), "https://site.example/hook", [], "root")
    session.commit()
    queued = [queued_comment(f"Waiting {n}", author=troll) for n in range(3)]
    approved = scored_comment("Fine, long ago.", scores={"toxicity": 0.01}, author=troll)
    pending = site.post_comment("Not scored yet.", author=troll).get_json()["id"]
    others = queued_comment("Someone else's.", author={"id": "reader-2"})
    author = session.get(Comment, pending).author
    set_standing(session, author, user(session), Standing.BAN)

    # Two races, as the rejections go: alice approves one queued comment first, and the
    # worker scores the pending one into the queue just before its rejection.
    real = moderation.moderate
    raced: set[int] = set()

    def racing(session_, comment, *args, **kwargs):  # type: ignore[no-untyped-def]
        if comment.id not in raced and comment.id in (queued[1], pending):
            raced.add(comment.id)
            with db.session() as other:
                if comment.id == pending:
                    result = moderation.ScorerResult("test", "1", {"toxicity": 0.5})
                    assert moderation.record_scores(other, pending, [result], settings).status == "queued"
                else:
                    real(other, other.get(Comment, comment.id), user(other, "alice"), Status.APPROVED)
        return real(session_, comment, *args, **kwargs)

    monkeypatch.setattr(standing, "moderate", racing)  # where reject_waiting looks it up
    swept = reject_waiting(session, author, user(session))

    assert (swept.rejected, swept.decided_first) == (3, 1)
    session.expire_all()
    status = {i: session.get(Comment, i).status for i in [*queued, approved, pending, others]}
    assert [status[i] for i in queued] == ["rejected", "approved", "rejected"]
    assert (status[approved], status[pending], status[others]) == ("approved", "rejected", "queued")
    for comment_id in (queued[0], queued[2], pending):
        decision = session.get(Comment, comment_id).decisions[-1]
        assert (decision.by, decision.user.name, decision.details["code"]) == ("moderator", "mod", "other")
        assert decision.reason == "rejected (other): the author was banned"
        # Nobody read these: a ban's rejections are not judgements of the text, so no label.
        assert session.scalars(select(Label).where(Label.comment_id == comment_id)).all() == []
        assert audit_actions(session, comment_id)[-1] == "comment.rejected"
    assert session.get(Comment, pending).decisions[-2].by == "auto"  # the worker's, then the rejection
    events = session.scalars(select(WebhookDelivery).where(WebhookDelivery.event == "comment.decided"))
    decided = [(e.payload["data"]["comment_id"], e.payload["data"]["status"]) for e in events]
    assert sorted(decided) == sorted(
        [(queued[0], "rejected"), (queued[1], "approved"), (queued[2], "rejected"), (approved, "approved")]
        + [(pending, "rejected")]
    )
    # A scoring task still running for a rejected comment leaves it rejected.
    result = moderation.ScorerResult("test", "1", {"toxicity": 0.01})
    assert moderation.record_scores(session, queued[0], [result], settings) is None


def test_an_installation_keeps_one_active_admin(session, make_user):
    make_user("root", "admin")
    root = user(session, "root")
    with pytest.raises(accounts.AccountError, match="one active admin"):
        accounts.change_user(session, root, root, active=False)
    make_user("second", "admin")
    accounts.change_user(session, root, root, role=Role.MODERATOR)
    assert root.role == "moderator"
    assert audit_actions(session, root.id, "user")[-1] == "user.change"


def test_thresholds_are_validated_and_audited(session, site_key):
    site = session.scalars(select(Site)).one()
    with pytest.raises(accounts.AccountError, match="between 0 and 1"):
        accounts.set_thresholds(session, site, {"reject_above": 1.5})
    with pytest.raises(accounts.AccountError, match="lower than"):
        accounts.set_thresholds(session, site, {"approve_below": 0.5, "reject_above": 0.4})
    accounts.set_thresholds(session, site, {"approve_below": 0.1, "reject_above": 0.9}, actor="root")
    assert (site.approve_below, site.reject_above) == (0.1, 0.9)
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "site.thresholds")).all()
    assert entry.after["reject_above"] == 0.9 and entry.before["reject_above"] is None


def test_word_lists_refuse_what_the_matcher_cannot_use_and_are_audited(session, site_key):
    with pytest.raises(accounts.AccountError):
        accounts.change_words(session, "Daily Planet", {WordKind.BANNED: ["*"]})
    accounts.change_words(session, "Daily Planet", {WordKind.BANNED: ["casin*"]}, actor="root")
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "site.words")).all()
    assert entry.after["banned"] == ["casin*"] and entry.before["banned"] == []


def test_a_revoked_key_stops_working(session, site_key):
    key = session.scalars(select(ApiKey)).one()
    accounts.revoke_key(session, key, actor="root")
    session.commit()
    assert accounts.site_for_key(session, site_key) is None
    with pytest.raises(accounts.AccountError, match="already revoked"):
        accounts.revoke_key(session, key)


def test_spans_of_every_reason_reach_the_card(session, scored_comment, app):
    from dashboard import cards

    body = "You absolute idiot, buy casino chips"
    reasons = [
        policy.Reason("toxic_span", 0.8, "idiot", [(13, 18)]),
        policy.Reason("suspect_word", 0.5, "casino", [(24, 30)]),
    ]
    comment_id = scored_comment(body, scores={"toxicity": 0.6}, reasons=reasons)
    with app.test_request_context():
        [card] = cards.load(session, [comment_id], user(session))
    marked = "You absolute <mark>idiot</mark>, buy <mark>casino</mark> chips"
    assert str(cards.highlight(card.comment.body, card.spans)) == marked
    assert [r.code for r in card.reasons] == ["suspect_word"]  # spans highlight, reasons list


@pytest.mark.parametrize(
    ("body", "spans", "html"),
    [
        ("<b>x</b> & y", [(0, 3)], "<mark>&lt;b&gt;</mark>x&lt;/b&gt; &amp; y"),
        ("aaaa", [(0, 2), (1, 3), (10, 12), (3, 2)], "<mark>aaa</mark>a"),
        ("<img src=x onerror=alert(1)>", [(5, 8)], "&lt;img <mark>src</mark>=x onerror=alert(1)&gt;"),
    ],
)
def test_highlight_escapes_every_piece(body, spans, html):
    from dashboard.cards import highlight

    assert str(highlight(body, spans)) == html


def test_the_core_refuses_new_comments_from_banned_authors_and_on_closed_articles(db):
    """The refusals live in the domain (typed), so every way in (API, Coral) shares them."""
    from service.schemas import CommentIn

    def data(author="reader-1", article="story-1", external_id=None):
        return CommentIn.model_validate(
            {
                "article": {"id": article},
                "author": {"id": author},
                "body": "Hello",
                "external_id": external_id,
            }
        )

    with db.session() as session:
        site, _key = accounts.create_site(session, "Refusing Times")
        first = moderation.submit_comment(session, site, data(external_id="c-1"))
        first.comment.author.banned = True
        first.comment.article.comments_open = True
        session.flush()
        with pytest.raises(moderation.AuthorBanned):
            moderation.submit_comment(session, site, data())
        # a retry of a comment already saved is not a new comment: it is returned, not refused
        assert moderation.submit_comment(session, site, data(external_id="c-1")).created is False
        first.comment.article.comments_open = False
        session.flush()
        with pytest.raises(moderation.CommentsClosed) as closed:
            moderation.submit_comment(session, site, data(author="reader-2"))
        assert (closed.value.code, closed.value.field) == ("comments_closed", "article.id")


def test_saving_a_comment_is_all_or_nothing(db, site_key):
    """A request that dies before its commit leaves no new author or article behind (on SQLite a
    savepoint used to commit them on its own)."""
    from service.models import Article, Author
    from service.schemas import CommentIn

    data = CommentIn.model_validate(
        {"article": {"id": "new-story"}, "author": {"id": "new-reader"}, "body": "First!"}
    )
    with db.session() as session:
        site = accounts.site_for_key(session, site_key)
        moderation.submit_comment(session, site, data)
        session.rollback()  # the API was killed here
    with db.session() as session:
        assert session.scalars(select(Author)).all() == []
        assert session.scalars(select(Article)).all() == []
        assert session.scalars(select(Comment)).all() == []
