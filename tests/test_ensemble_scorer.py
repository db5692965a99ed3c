"""The ensemble (a part of the default scorer, and ``STET_SCORERS=ensemble``): seven attributes, its
stored weights, what it reads. How it decides is in ``test_default_scorer.py``, with the default's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from tests.test_default_scorer import CLEAN, CRITICISM, THREATS
from tests.test_linear_model import _sample_rows
from worker.scorers import load_scorer, packing
from worker.scorers.ensemble import EnsembleScorer, prepare, save_artifact


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
