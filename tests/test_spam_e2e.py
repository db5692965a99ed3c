"""Spam campaigns posted through the API are caught by a real worker, with reasons a moderator reads."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from service.models import Comment, Decision, SiteWord, Status
from tests.conftest import wait_until

pytestmark = pytest.mark.worker

CAMPAIGN = (
    "Made $350 a day working from home with this simple trick!! Details at www.quick-cash-home.biz "
    "or message me on WhatsApp +1 555 301 2288"
)
JIGSAW_SUBSET = (
    Path(os.environ.get("STET_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "jigsaw_subset"
    / "train.csv"
)
LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")


def clean_comments(n: int) -> list[str]:
    """The first ``n`` real comments labelled clean in the Jigsaw subset, 8-80 words, without links."""
    if not JIGSAW_SUBSET.exists():
        pytest.skip(f"shared data not found at {JIGSAW_SUBSET} (set STET_DATA_DIR)")
    with JIGSAW_SUBSET.open(newline="", encoding="utf-8") as f:
        rows = [r["comment_text"] for r in csv.DictReader(f) if all(r[label] == "0" for label in LABELS)]
    return [t for t in rows if 8 <= len(t.split()) <= 80 and "http" not in t and "www" not in t][:n]


def outcomes(db) -> dict[int, tuple[str, str]]:
    """Comment id → (status, policy category) of its automatic decision."""
    with db.session() as session:
        rows = session.execute(
            select(Comment.id, Comment.status, Decision.details).join(Decision).where(Decision.by == "auto")
        )
        return {cid: (status, details["category"]) for cid, status, details in rows}


def test_a_copy_paste_campaign_by_new_authors_is_stopped(site, db, worker_factory):
    clean_texts = clean_comments(50)
    worker_factory(concurrency=2).start()
    spam_ids, clean_ids = [], []
    for i in range(1000):
        response = site.post_comment(
            CAMPAIGN,
            article={"id": f"story-{i % 20}"},
            author={"id": f"new-{i % 50}"},
            ip=f"198.51.100.{i % 50}",
        )
        spam_ids.append(response.get_json()["id"])
        if i % 20 == 0:
            clean_ids.append(
                site.post_comment(
                    clean_texts[i // 20], article={"id": f"story-{i % 20}"}, author={"id": f"regular-{i}"}
                ).get_json()["id"]
            )

    wait_until(lambda: len(outcomes(db)) == 1050, 180, interval=1, what="every comment decided")

    decided = outcomes(db)
    caught = [cid for cid in spam_ids if decided[cid][0] != "approved" and decided[cid][1] == "spam"]
    assert len(caught) >= 990, f"only {len(caught)} of 1000 copies caught as spam"
    clean_as_spam = [decided[cid] for cid in clean_ids if decided[cid][1] == "spam"]
    assert clean_as_spam == []
    shown = site.get_comment(spam_ids[-1]).get_json()
    assert {"copied_across_authors", "messenger"} <= {r["code"] for r in shown["reasons"]}
    assert shown["decision"]["reason"].startswith("spam")


def test_word_lists_reject_and_queue_with_highlighted_spans(site, db, worker_factory):
    with db.session() as session:
        session.add_all(
            [
                SiteWord(site_id=1, kind="banned", pattern="casin*"),
                SiteWord(site_id=1, kind="suspect", pattern="crypto"),
            ]
        )
        session.commit()
    worker_factory().start()
    banned = site.post_comment("Best odds at the new C a s i n o in town, trust me.").get_json()["id"]
    suspect = site.post_comment("Is the council investing pension money in crypto now?").get_json()["id"]

    wait_until(lambda: site.status(banned) != "pending" and site.status(suspect) != "pending", 60)

    rejected, queued = site.get_comment(banned).get_json(), site.get_comment(suspect).get_json()
    assert rejected["status"] == Status.REJECTED
    start, end = next(r["spans"][0] for r in rejected["reasons"] if r["code"] == "banned_word")
    assert "Best odds at the new C a s i n o in town"[start:end] == "C a s i n o"
    assert queued["status"] == Status.QUEUED
    assert queued["decision"]["reason"].startswith("suspect word: 'crypto'")


def test_akismet_is_one_more_signal_and_never_blocks_scoring(
    settings, site, db, worker_factory, fake_akismet
):
    from service import accounts

    with db.session() as session:
        accounts.set_akismet(session, "Daily Planet", "akismet-key", "https://planet.example")
        session.commit()
    worker_factory(akismet_endpoint=fake_akismet.endpoint).start()
    flagged = site.post_comment("Cheap viagra, best prices in town for everyone", ip="203.0.113.7").get_json()
    wait_until(lambda: site.status(flagged["id"]) != "pending", 60)

    reasons = {r["code"]: r for r in site.get_comment(flagged["id"]).get_json()["reasons"]}
    assert reasons["akismet"]["detail"] == "Akismet says spam"
    assert fake_akismet.forms[0]["comment_content"].startswith("Cheap viagra")
    assert fake_akismet.forms[0]["user_ip"] == "203.0.113.7"


def test_scoring_goes_on_when_akismet_is_down(site, db, worker_factory):
    from service import accounts

    with db.session() as session:
        accounts.set_akismet(session, "Daily Planet", "akismet-key", "https://planet.example")
        session.commit()
    worker_factory(akismet_endpoint="http://127.0.0.1:1/1.1/comment-check").start()
    comment_id = site.post_comment("A perfectly ordinary remark on the budget.", ip="203.0.113.8").get_json()[
        "id"
    ]

    wait_until(lambda: site.status(comment_id) != "pending", 60)
    assert "akismet" not in {r["code"] for r in site.get_comment(comment_id).get_json()["reasons"]}


def test_moderators_overturning_akismet_are_reported_back_to_it(
    settings, site, db, worker_factory, fake_akismet, make_user
):
    """Akismet asks its clients to submit its mistakes: an approved comment it called spam goes
    to submit-ham, a comment it let through that a moderator rejects as spam to submit-spam."""
    from service import accounts, moderation
    from service.models import Comment, User

    with db.session() as session:
        accounts.set_akismet(session, "Daily Planet", "akismet-key", "https://planet.example")
        session.commit()
    make_user("mod")
    worker_factory(akismet_endpoint=fake_akismet.endpoint).start()
    flagged = site.post_comment("Cheap viagra, best prices in town for everyone", ip="203.0.113.7").get_json()
    missed = site.post_comment("Great deals on my page, check it out soon", ip="203.0.113.9").get_json()
    wait_until(lambda: all(site.status(c["id"]) != "pending" for c in (flagged, missed)), 60)
    with db.session() as session:
        mod = session.query(User).filter_by(name="mod").one()
        moderation.moderate(session, session.get(Comment, flagged["id"]), mod, Status.APPROVED, "not spam")
        moderation.moderate(
            session,
            session.get(Comment, missed["id"]),
            mod,
            Status.REJECTED,
            "",
            code=moderation.RejectCode.SPAM,
        )
    wait_until(lambda: len([p for p in fake_akismet.paths if "submit" in p]) >= 2, 30, what="feedback")
    sent = {
        path.rsplit("/", 1)[-1]: form
        for path, form in zip(fake_akismet.paths, fake_akismet.forms, strict=True)
    }
    assert sent["submit-ham"]["comment_content"].startswith("Cheap viagra")
    assert sent["submit-spam"]["comment_content"].startswith("Great deals")
    assert sent["submit-ham"]["api_key"] == "akismet-key" and sent["submit-ham"]["user_ip"] == "203.0.113.7"
