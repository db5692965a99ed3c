"""The policy: clean comments approved, toxic ones rejected, the uncertain middle queued."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.models import Status
from service.policy import BANNED_WORD, SUSPECT_WORD, Reason, Thresholds, decide

T = Thresholds(approve_below=0.1, reject_above=0.9)


@pytest.mark.parametrize(
    ("toxicity", "status"),
    [
        (0.0, Status.APPROVED),
        (0.099, Status.APPROVED),
        (0.1, Status.QUEUED),
        (0.5, Status.QUEUED),
        (0.899, Status.QUEUED),
        (0.9, Status.REJECTED),
        (1.0, Status.REJECTED),
    ],
)
def test_thresholds_split_the_scores(toxicity, status):
    assert decide({"toxicity": toxicity}, T).status is status


def test_reason_names_the_score_and_threshold():
    assert decide({"toxicity": 0.95}, T).reason == "toxicity 0.95 ≥ auto-reject threshold 0.90"


def test_without_a_toxicity_score_a_person_decides():
    assert decide({}, T).status is Status.QUEUED


@pytest.mark.parametrize(("low", "high"), [(0.5, 0.4), (-0.1, 0.5), (0.1, 1.1)])
def test_inconsistent_thresholds_are_refused(low, high):
    with pytest.raises(ValueError, match="toxicity thresholds"):
        Thresholds(low, high)
    with pytest.raises(ValueError, match="spam thresholds"):
        Thresholds(0.1, 0.9, spam_queue_above=low, spam_reject_above=high)


LINKS = Reason("shortener", 1.5, "2 links to URL shorteners (bit.ly)", [(10, 24)])
WHATSAPP = Reason("messenger", 2.0, "WhatsApp invitation", [(30, 38)])


def test_spam_is_rejected_with_its_strongest_reasons_whatever_the_toxicity():
    outcome = decide({"toxicity": 0.01, "spam": 0.99}, T, [LINKS, WHATSAPP])
    assert (outcome.status, outcome.category) == (Status.REJECTED, "spam")
    assert outcome.reason == "spam 0.99 ≥ 0.95 (WhatsApp invitation; 2 links to URL shorteners (bit.ly))"


def test_possible_spam_is_queued_even_when_clean():
    outcome = decide({"toxicity": 0.01, "spam": 0.7}, T, [LINKS])
    assert (outcome.status, outcome.category) == (Status.QUEUED, "spam")


def test_the_content_model_alone_queues_only_when_it_is_sure():
    # Without a link, contact, promotion or repetition behind it, a spam score is the YouTube-trained
    # content model alone: discussion that merely reads like a template is not queued as spam.
    alone = decide({"toxicity": 0.01, "spam": 0.8}, T)
    assert (alone.status, alone.category) == (Status.APPROVED, "clean")
    sure = decide({"toxicity": 0.01, "spam": 0.93}, T)
    assert (sure.status, sure.category) == (Status.QUEUED, "spam")
    toxic_words = Reason("toxic_span", 2.0, "idiot", [(0, 5)])
    assert decide({"toxicity": 0.01, "spam": 0.8}, T, [toxic_words]).status is Status.APPROVED


def test_pre_moderation_holds_whatever_the_scores_but_never_saves_a_rejection():
    held = decide({"toxicity": 0.01, "spam": 0.01}, T, hold="the article is pre-moderated")
    assert (held.status, held.reason, held.category) == (
        Status.QUEUED,
        "the article is pre-moderated",
        "premoderation",
    )
    assert decide({"toxicity": 0.99}, T, hold="the article is pre-moderated").status is Status.REJECTED


def test_a_trusted_author_skips_the_uncertain_band_but_not_rejection_or_suspect_words():
    assert decide({"toxicity": 0.5, "spam": 0.7}, T, [LINKS], trusted=True).category == "trusted"
    assert decide({"toxicity": 0.99}, T, trusted=True).status is Status.REJECTED
    suspect = Reason(SUSPECT_WORD, 0.0, "suspect word: crypto")
    assert decide({"toxicity": 0.01}, T, [suspect], trusted=True).status is Status.QUEUED


def test_a_banned_word_rejects_and_a_suspect_word_queues():
    banned = Reason(BANNED_WORD, 0.0, "banned word: casino", [(4, 10)])
    suspect = Reason(SUSPECT_WORD, 0.0, "suspect word: crypto", [(4, 10)])
    assert decide({"toxicity": 0.01, "spam": 0.01}, T, [banned]).status is Status.REJECTED
    queued = decide({"toxicity": 0.01, "spam": 0.01}, T, [suspect])
    assert (queued.status, queued.reason) == (Status.QUEUED, "suspect word: crypto")


def test_abuse_outranks_a_suspect_word():
    suspect = Reason(SUSPECT_WORD, 0.0, "suspect word: crypto")
    assert decide({"toxicity": 0.99}, T, [suspect]).category == "toxic"


def test_defaults_favour_queueing():
    defaults = Settings()
    assert defaults.approve_below < 0.5 < defaults.reject_above
