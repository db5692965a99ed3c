"""The policy: clean comments approved, dangerous ones rejected, rudeness and the uncertain middle queued."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.models import Status
from service.policy import (
    DEFAULT_RULES,
    AttributeRule,
    Reason,
    Thresholds,
    decide,
    merge_rules,
)
from service.reasons import ReasonCode

T = Thresholds(approve_below=0.1, reject_above=0.9)


@pytest.mark.parametrize(
    ("toxicity", "status"),
    [
        (0.0, Status.APPROVED),
        (0.099, Status.APPROVED),
        (0.1, Status.QUEUED),
        (0.5, Status.QUEUED),
        (0.899, Status.QUEUED),
        (0.9, Status.QUEUED),  # rude is not dangerous: a person decides
        (1.0, Status.QUEUED),
    ],
)
def test_toxicity_alone_approves_or_queues_but_never_rejects(toxicity, status):
    assert decide({"toxicity": toxicity}, T).status is status


def test_criticism_that_reads_as_toxic_goes_to_a_person():
    # "The minister is a hypocrite and a liar": toxic to every model, neither threat nor hate.
    scores = {"toxicity": 0.999, "insult": 0.98, "threat": 0.01, "identity_attack": 0.02}
    outcome = decide(scores, T)
    assert (outcome.status, outcome.category) == (Status.QUEUED, "toxic")
    assert outcome.reason == "toxicity 1.00 ≥ 0.90 but no threat, hate or harassment: a person decides"


def test_a_site_may_publish_rudeness_but_not_danger():
    relaxed = Thresholds(0.1, 0.9, rude="approve")
    assert decide({"toxicity": 0.999, "insult": 0.98, "threat": 0.01}, relaxed).status is Status.APPROVED
    assert decide({"toxicity": 0.5, "threat": 0.5}, relaxed).status is Status.QUEUED
    with pytest.raises(ValueError, match="rude must be one of queue, approve"):
        Thresholds(0.1, 0.9, rude="publish")


@pytest.mark.parametrize("label", ["threat", "identity_attack", "severe_toxicity", "sexual_explicit"])
def test_a_dangerous_attribute_is_never_auto_approved_and_rejects_when_sure(label):
    rule = DEFAULT_RULES[label]
    below = {"toxicity": 0.01, label: rule.queue_at - 0.01}
    assert decide(below, T).status is Status.APPROVED
    queued = decide({"toxicity": 0.01, label: rule.queue_at}, T)
    assert (queued.status, queued.category) == (Status.QUEUED, label)
    assert queued.reason.startswith("possible ")
    assert decide({"toxicity": 0.01, label: rule.queue_at}, T, trusted=True).status is Status.QUEUED
    rejected = decide({"toxicity": 0.3, label: rule.reject_at}, T)
    assert (rejected.status, rejected.category) == (Status.REJECTED, label)


def test_a_threat_written_without_swear_words_is_held():
    outcome = decide({"toxicity": 0.05, "threat": 0.6}, T)
    assert (outcome.status, outcome.reason) == (
        Status.QUEUED,
        f"possible threat 0.60 ≥ {DEFAULT_RULES['threat'].queue_at:.2f}: a person decides",
    )


def test_high_toxicity_rejects_only_with_a_dangerous_attribute_behind_it():
    outcome = decide({"toxicity": 0.95, "identity_attack": 0.6}, T)
    assert (outcome.status, outcome.category) == (Status.REJECTED, "toxic")
    assert outcome.reason == "toxicity 0.95 ≥ 0.90 with identity attack 0.60 ≥ 0.50"
    # A site that holds identity attacks only from 0.7 rejects on the two together from there too.
    rules = merge_rules(DEFAULT_RULES, {"identity_attack": {"queue_at": 0.7}})
    strict = Thresholds(0.1, 0.9, attributes=rules)
    below = decide({"toxicity": 0.95, "identity_attack": 0.6}, strict)
    assert (below.status, below.category) == (Status.QUEUED, "toxic")
    assert decide({"toxicity": 0.95, "identity_attack": 0.75}, strict).reason.endswith("≥ 0.70")


def test_a_toxic_comment_only_possibly_dangerous_goes_to_a_person():
    """queue_at is low so that nothing possibly dangerous is published; with toxicity alone high it
    must not reject. The linear model reads "The minister is a hypocrite and a liar" as toxicity
    0.999 and identity attack 0.054, above that attribute's queue_at."""
    scores = {"toxicity": 0.999, "insult": 0.98, "identity_attack": 0.054, "threat": 0.01}
    assert scores["identity_attack"] >= DEFAULT_RULES["identity_attack"].queue_at
    outcome = decide(scores, T)
    assert (outcome.status, outcome.category) == (Status.QUEUED, "identity_attack")
    bar = DEFAULT_RULES["identity_attack"].queue_at
    assert outcome.reason == f"possible identity attack 0.05 ≥ {bar:.2f}: a person decides"


def test_rules_merge_installation_site_and_article():
    rules = merge_rules(
        DEFAULT_RULES,
        {"threat": {"queue_at": 0.3}},
        {"threat": {"reject_at": None}, "sexual_explicit": {"queue_at": 0.5, "reject_at": 0.95}},
        None,
    )
    assert rules["threat"] == AttributeRule(0.3, None)
    assert rules["sexual_explicit"] == AttributeRule(0.5, 0.95)
    assert rules["identity_attack"] == DEFAULT_RULES["identity_attack"]
    with pytest.raises(ValueError, match="no thresholds for 'toxicity'"):
        merge_rules(DEFAULT_RULES, {"toxicity": {"queue_at": 0.1}})
    with pytest.raises(ValueError, match="queue_at ≤ reject_at"):
        merge_rules(DEFAULT_RULES, {"threat": {"queue_at": 0.95}})


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
    held = decide({"toxicity": 0.01, "spam": 0.01}, T, review_reason="the article is pre-moderated")
    assert (held.status, held.reason, held.category) == (
        Status.QUEUED,
        "the article is pre-moderated",
        "premoderation",
    )
    held_threat = {"toxicity": 0.99, "threat": 0.99}
    assert decide(held_threat, T, review_reason="the article is pre-moderated").status is Status.REJECTED


def test_a_trusted_author_skips_the_uncertain_band_but_not_rejection_or_suspect_words():
    assert decide({"toxicity": 0.5, "spam": 0.7}, T, [LINKS], trusted=True).category == "trusted"
    assert decide({"toxicity": 0.99, "threat": 0.95}, T, trusted=True).status is Status.REJECTED
    suspect = Reason(ReasonCode.SUSPECT_WORD, 0.0, "suspect word: crypto")
    assert decide({"toxicity": 0.01}, T, [suspect], trusted=True).status is Status.QUEUED


def test_a_banned_word_rejects_and_a_suspect_word_queues():
    banned = Reason(ReasonCode.BANNED_WORD, 0.0, "banned word: casino", [(4, 10)])
    suspect = Reason(ReasonCode.SUSPECT_WORD, 0.0, "suspect word: crypto", [(4, 10)])
    assert decide({"toxicity": 0.01, "spam": 0.01}, T, [banned]).status is Status.REJECTED
    queued = decide({"toxicity": 0.01, "spam": 0.01}, T, [suspect])
    assert (queued.status, queued.reason) == (Status.QUEUED, "suspect word: crypto")


def test_abuse_outranks_a_suspect_word():
    suspect = Reason(ReasonCode.SUSPECT_WORD, 0.0, "suspect word: crypto")
    assert decide({"toxicity": 0.99, "threat": 0.6}, T, [suspect]).category == "toxic"
    assert decide({"toxicity": 0.2, "threat": 0.95}, T, [suspect]).category == "threat"


def test_defaults_favour_queueing():
    defaults = Settings()
    assert defaults.approve_below < 0.5 < defaults.reject_above


def test_a_comment_the_worker_could_not_score_waits_for_a_person_even_from_a_trusted_author():
    why = "could not be scored automatically (3 attempts failed, the last with ValueError): a person decides"
    unscored = Reason(ReasonCode.NOT_SCORED, 0.0, why, [])
    for trusted in (False, True):
        outcome = decide({}, T, [unscored], trusted=trusted)
        assert (outcome.status, outcome.reason, outcome.category) == (Status.QUEUED, why, "unscored")
