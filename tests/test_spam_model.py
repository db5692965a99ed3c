"""The shipped spam scorer: loads, separates spam from news comments, explains itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from service.wordlists import WordLists
from worker.scorers.spam import DEFAULT_MODEL, SpamScorer
from worker.scorers.spam.signals import PRIOR_WEIGHTS, Reason
from worker.training.spam import NEWS_FILES, fit_combination
from worker.training.spam_data import EXTRA_HAM_FILE, EXTRA_HAM_SHARE, default_data_dir, load_videos

SPAM = "Check out my channel!! subscribe http://bit.ly/xyz"
NEWS = [
    "I disagree with the council's decision, but the reporting was fair.",
    "The mayor should explain why the bus routes were cut before the election.",
    "Great reporting, as always. My family has lived here for 30 years and never seen this.",
]


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture(scope="module")
def scorer() -> SpamScorer:
    return SpamScorer.load()


def test_shipped_model_is_small_and_versioned(scorer: SpamScorer) -> None:
    assert DEFAULT_MODEL.stat().st_size < 2_000_000
    assert (scorer.name, scorer.labels) == ("spam", ("spam",))
    assert scorer.version == "spam-tfidf-lr-2+signals-1"
    assert set(scorer.combination["weights"]) == set(PRIOR_WEIGHTS)
    assert all(w >= 0 for w in scorer.combination["weights"].values())
    lovo = scorer.model.metadata["lovo"]
    assert lovo["mean_model_auc"] >= 0.985
    assert lovo["mean_combined_auc"] >= max(lovo["mean_model_auc"], 0.99)  # issue 4's target


def test_shipped_model_records_its_extra_ham(scorer: SpamScorer) -> None:
    extra = scorer.model.metadata["training"]["extra_ham"]
    assert (extra["data"], extra["share"]) == (EXTRA_HAM_FILE, EXTRA_HAM_SHARE)
    assert extra["rows"] > 7_000
    assert NEWS_FILES == ("toxic_spans/tsd_trial.csv",)  # the news check never scores training ham


def test_obvious_spam_scores_far_above_news_comments(scorer: SpamScorer) -> None:
    spam = scorer.assess(SPAM)
    assert spam.score > 0.95
    assert [r.detail for r in spam.reasons] == [
        "1 link (bit.ly)",
        "1 link to a URL shortener (bit.ly)",
        "self-promotion (check out my)",
    ]
    for comment in NEWS:
        assessed = scorer.assess(comment)
        assert assessed.score < 0.1, comment
        assert assessed.reasons == []


def test_word_list_matches_come_back_apart_with_original_spans(scorer: SpamScorer) -> None:
    text = "Loans for all!! Buy V I A G R A now"
    assessed = scorer.assess(text, wordlists=WordLists(banned=["viagra"], suspect=["loan*"]))
    assert [(m.entry, m.text) for m in assessed.banned] == [("viagra", "V I A G R A")]
    assert [text[m.start : m.end] for m in assessed.suspect] == ["Loans"]


def test_reasons_from_elsewhere_add_their_weight_to_the_log_odds(scorer: SpamScorer) -> None:
    copied = Reason("copied_across_authors", 4.0, "the same text came from 12 other authors", [])
    alone, joined = scorer.assess(NEWS[0]), scorer.assess(NEWS[0], extra_reasons=[copied])
    assert logit(joined.score) - logit(alone.score) == pytest.approx(4.0)
    assert joined.reasons == [copied]


def test_base_rate_moves_scores_but_not_their_order(scorer: SpamScorer) -> None:
    texts = [SPAM, *NEWS, "Could you add a link to the transcript?"]
    balanced = SpamScorer(scorer.model, base_rate=scorer.combination["base_rate"])
    low, high = scorer.score_batch(texts), balanced.score_batch(texts)
    assert all(a["spam"] <= b["spam"] for a, b in zip(low, high, strict=True))
    assert np.argsort([s["spam"] for s in low]).tolist() == np.argsort([s["spam"] for s in high]).tolist()


def test_bad_input_scores_as_probabilities(scorer: SpamScorer) -> None:
    texts = ["", "   ", "\u200b" * 1_000_000, "bad \ud800 unicode", " ".join(["http://bit.ly/x"] * 10_000)]
    scores = scorer.score_batch(texts)
    assert [set(s) for s in scores] == [{"spam"}] * len(texts)
    assert all(0.0 <= s["spam"] <= 1.0 for s in scores)
    assert scorer.score_batch([]) == []


def test_combination_keeps_unseen_reasons_at_their_prior() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    log_odds = (2 * y - 1) * 2.0 + rng.normal(0, 1, 400)
    hits = np.zeros((400, len(PRIOR_WEIGHTS)))
    links = list(PRIOR_WEIGHTS).index("links")
    hits[:, links] = (y == 1) & (rng.random(400) < 0.5)
    combination = fit_combination(log_odds, hits, y)
    assert combination["weights"]["phone"] == PRIOR_WEIGHTS["phone"]
    assert combination["weights"]["links"] > PRIOR_WEIGHTS["links"]
    assert combination["base_rate"] == pytest.approx(y.mean())


@pytest.mark.skipif(
    not default_data_dir().is_dir(), reason=f"shared data folder absent: {default_data_dir()}"
)
def test_model_ranks_a_sample_of_the_youtube_set(scorer: SpamScorer) -> None:
    """The shipped model was fitted on all five videos, so this checks the artifact, not generalisation
    (``stet model eval --task spam`` reports the leave-one-video-out figures)."""
    data = load_videos()
    rows = np.random.default_rng(0).choice(len(data["y"]), 300, replace=False)
    scores = [s["spam"] for s in scorer.score_batch([data["texts"][i] for i in rows])]
    assert roc_auc_score(data["y"][rows], scores) > 0.99
