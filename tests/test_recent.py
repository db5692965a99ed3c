"""Repetition and bursts seen across worker processes, through a real Redis."""

from __future__ import annotations

import itertools

import pytest

from worker.recent import Posting, RecentActivity
from worker.scorers.spam.similarity import signature

SPAM = "Earn $500 a day from home, message me on WhatsApp for details!!"
NEWS = "The council vote on the bridge closure was delayed again, according to the minutes."

_ids = itertools.count(1)


def post(recent, text, author="a1", article="story-1", ip=None, at=1_000_000.0, site=1, comment_id=None):
    posting = Posting(site, comment_id or next(_ids), author, article, ip, at, signature(text))
    return {r.code: r for r in recent.observe(posting)}


@pytest.fixture
def recent(broker):
    return RecentActivity(broker, window=600, author_limit=3, ip_limit=5)


def test_copies_from_other_authors_are_flagged(recent):
    assert post(recent, SPAM, author="a1", article="s1") == {}
    post(recent, SPAM + " Really!", author="a2", article="s2", at=1_000_010)
    third = post(recent, SPAM.upper(), author="a3", article="s3", at=1_000_020)

    assert third["copied_across_authors"].detail == (
        "the same text came from 2 other author(s) on 2 article(s) within 10 min"
    )
    assert third["copied_across_authors"].weight == 4.0  # grows with the number of authors


def test_an_author_repeating_themselves_is_flagged(recent):
    post(recent, NEWS, author="a1")
    again = post(recent, NEWS, author="a1", article="story-2", at=1_000_030)
    assert set(again) == {"repeated_by_author"}


def test_unrelated_comments_and_old_copies_are_not_flagged(recent):
    post(recent, SPAM, author="a1")
    assert post(recent, NEWS, author="a2", at=1_000_005) == {}
    assert post(recent, SPAM, author="a3", at=1_000_000 + 3600) == {}  # outside the window


def test_sites_do_not_see_each_other(recent):
    post(recent, SPAM, author="a1", site=1)
    assert post(recent, SPAM, author="a2", site=2) == {}


def test_bursts_by_author_and_by_ip(recent):
    texts = [f"Comment {i} about a different topic entirely: {w}" for i, w in enumerate("abcdefg")]
    seen = [
        post(recent, t, author="fast", ip="203.0.113.9", at=1_000_000 + i) for i, t in enumerate(texts[:4])
    ]
    assert "author_burst" not in seen[2] and "author_burst" in seen[3]
    others = [
        post(recent, t, author=f"u{i}", ip="203.0.113.9", at=1_000_010 + i) for i, t in enumerate(texts[4:])
    ]
    assert "ip_burst" in others[-1]  # 7 from one address in a minute, limit 5


def test_scoring_the_same_comment_twice_counts_it_once(recent):
    for _ in range(5):
        reasons = post(recent, NEWS, author="a1", comment_id=999)
    assert reasons == {}


def test_a_copy_paste_campaign_costs_each_comment_the_same(recent, monkeypatch):
    """Every earlier copy shares every band with the next one; a comment reads only the latest
    CANDIDATES of them, so the 400th copy is flagged at full weight for the price of the 100th."""
    from worker.recent import CANDIDATES

    for n in range(400):
        post(recent, SPAM, author=f"bot-{n}", article=f"s{n % 7}", at=1_000_000.0 + n / 10)
    compared: list[int] = []
    real = RecentActivity._copies

    def spy(self, site, sig, author_id, candidates):  # type: ignore[no-untyped-def]
        compared.append(len(candidates))
        return real(self, site, sig, author_id, candidates)

    monkeypatch.setattr(RecentActivity, "_copies", spy)
    last = post(recent, SPAM, author="bot-last", at=1_000_050.0)
    assert compared == [CANDIDATES]
    assert last["copied_across_authors"].weight == 8.0
