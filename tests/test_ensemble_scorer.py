"""The default scorer: seven attributes, threats and hate held, criticism never silenced, languages read."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from service.models import Status
from service.policy import DEFAULT_RULES, Thresholds, decide
from tests.test_linear_model import _sample_rows
from worker.scorers import load_scorer, packing
from worker.scorers.ensemble import EnsembleScorer, prepare, save_artifact

DEFAULT = Thresholds(approve_below=0.08, reject_above=0.97)
THREATS = [
    "Someone should shoot every one of those protesters.",
    "I know where you live and I am coming for you with a knife.",
    pytest.param(
        "I hope somebody puts a bullet in that journalist.",
        marks=pytest.mark.xfail(strict=True, reason="known miss: no set we may train on has threats like it"),
    ),
]
CRITICISM = [
    "The minister is a hypocrite and a liar.",
    "What a stupid plan from the school board.",
    "This policy is idiotic and will hurt poor families.",
]
CLEAN = "Thanks for explaining the new bus routes, very useful."


@pytest.fixture(scope="module")
def scorer() -> EnsembleScorer:
    return EnsembleScorer.load()


def test_every_perspective_attribute_under_detoxify_names(scorer):
    assert scorer.labels == (
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
        "sexual_explicit",
    )
    assert scorer.version.startswith("use-stack-2+tfidf-lr-2")
    assert load_scorer("ensemble").version == scorer.version
    (scores,) = scorer.score_batch([CLEAN])
    assert all(0.0 <= v <= 1.0 for v in scores.values())


@pytest.mark.parametrize("text", THREATS)
def test_a_threat_without_swear_words_is_never_published(scorer, text):
    (scores,) = scorer.score_batch([text])
    (clean,) = scorer.score_batch([CLEAN])
    assert scores["threat"] > 10 * clean["threat"]
    assert scores["threat"] >= DEFAULT_RULES["threat"].queue_at
    assert decide(scores, DEFAULT).status is not Status.APPROVED


@pytest.mark.parametrize("text", CRITICISM)
def test_harsh_criticism_of_officials_is_never_auto_rejected(scorer, text):
    (scores,) = scorer.score_batch([text])
    assert decide(scores, DEFAULT).status is not Status.REJECTED


def test_a_clean_comment_is_published(scorer):
    (scores,) = scorer.score_batch([CLEAN])
    assert decide(scores, DEFAULT).status is Status.APPROVED


def test_german_and_french_abuse_scores_above_polite_comments(scorer):
    rude_de, polite_de, rude_fr, polite_fr = scorer.score_batch(
        [
            "Du bist ein dummer Idiot, halt endlich dein Maul.",
            "Danke für den ausführlichen Artikel über den Haushalt.",
            "Ferme ta gueule, espèce de connard.",
            "Merci pour cet article très clair sur le budget.",
        ]
    )
    assert rude_de["toxicity"] > 0.5 > polite_de["toxicity"]
    assert rude_fr["toxicity"] > 4 * polite_fr["toxicity"]


def test_spans_never_point_at_an_identity_term_alone(scorer):
    text = "Black residents deserve answers from the police chief, you idiots."
    spans = scorer.explain([text])[0]
    marked = [text[start:end].lower() for start, end, _ in spans]
    assert "black" not in marked
    assert all("black" != word.strip(",.") for span in marked for word in span.split())


def test_a_batch_scores_each_comment_as_alone(scorer):
    texts = [THREATS[0], CLEAN, CRITICISM[0]]
    together = scorer.score_batch(texts)
    for text, scores in zip(texts, together, strict=True):
        assert scorer.score_batch([text])[0] == pytest.approx(scores, abs=1e-5)


def test_mentions_and_links_are_not_read():
    assert prepare("RT @reader42: read https://t.co/x &amp; weep URL") == ": read & weep"
    assert prepare("The url of the story") == "The url of the story"


def test_a_stored_model_scores_as_its_float_weights(scorer, tmp_path):
    """``save_artifact`` rounds the n-gram heads to multiples of ``packing.STEP`` and keeps the network
    exact: a small model (heads trained here, the shipped network) read back scores within
    ``packing.TOLERANCE`` of the same model in float."""
    texts, y = _sample_rows(800)
    x = scorer.linear.features([prepare(t) for t in texts])
    x = sp.csr_matrix((x.data, x.indices, x.indptr), shape=x.shape)
    targets = [  # toxicity, and six labels made up so that every attribute has a head
        y,
        *(np.array([word in t.lower() for t in texts]) for word in ("you", "!", "?", "the", "not", "are")),
    ]
    heads = [LogisticRegression(C=4.0, solver="liblinear").fit(x, target) for target in targets]
    sparse = np.column_stack([h.coef_.ravel() for h in heads])
    intercept = np.array([h.intercept_[0] for h in heads], dtype=np.float32)
    card = {**scorer.card, "version": "test-1"}
    in_memory = EnsembleScorer(
        card,
        {**scorer.state, "sparse": sparse.astype(np.float32), "sparse_intercept": intercept},
        scorer.linear,
        scorer.encoder,
    )
    save_artifact(tmp_path / "small.npz", card, scorer.state, sparse, intercept)

    stored = EnsembleScorer.load(tmp_path / "small.npz")
    assert stored.card["storage"]["step"] == packing.STEP
    for k, v in scorer.state.items():
        np.testing.assert_array_equal(stored.state[k], v)
    probe = [*texts[-40:], *THREATS[:2], *CRITICISM, CLEAN]
    got = np.array([list(s.values()) for s in stored.score_batch(probe)])
    exact = np.array([list(s.values()) for s in in_memory.score_batch(probe)])
    assert 0 < np.abs(got - exact).max() <= packing.TOLERANCE
