"""The shipped linear toxicity model, and the artifact format's equivalence with scikit-learn."""

from __future__ import annotations

import csv
import gzip
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline

from service.policy import ATTRIBUTES
from worker import training
from worker.scorers import load_scorer, packing
from worker.scorers.linear import DEFAULT_MODEL, LinearToxicityScorer, save_artifact
from worker.training import default_data_path
from worker.training.vectorizer import make_vectorizer

TOXIC = [
    "you are a stupid idiot, go die",
    "shut up you worthless piece of shit",
    "what a fucking moron, nobody wants you here",
]
CLEAN = [
    "Thanks for the thoughtful article about the city budget.",
    "I disagree with the council's decision, but the reporting was fair.",
    "Could you add a link to the full transcript of the meeting?",
]


@pytest.fixture(scope="module")
def scorer() -> LinearToxicityScorer:
    return LinearToxicityScorer.load()


DETOXIFY_LABELS = set(ATTRIBUTES)


def test_shipped_model_loads_through_load_scorer() -> None:
    loaded = load_scorer("linear")
    assert loaded.name == "linear"
    assert loaded.labels[0] == "toxicity" and set(loaded.labels) <= DETOXIFY_LABELS
    assert loaded.labels == tuple(loaded.metadata["labels"])
    assert loaded.version == loaded.metadata["version"]
    assert loaded.version


def test_shipped_heads_are_the_labels_with_enough_training_data() -> None:
    """A head ships only when it had enough positive training comments; its held-out AUC is recorded."""
    loaded = LinearToxicityScorer.load()
    heads = loaded.metadata["training"]["heads"]
    assert set(loaded.labels[1:]) == {label for label, head in heads.items() if head["shipped"]}
    assert len(loaded.labels) > 1
    for label in loaded.labels[1:]:
        assert heads[label]["train_positives"] >= training.MIN_HEAD_POSITIVES
        assert heads[label]["held_out"]["jigsaw_subset"]["roc_auc"] > 0.9


def test_labels_are_kinds_of_toxicity(scorer: LinearToxicityScorer) -> None:
    """A head scores P(toxicity) * q, so no label outscores toxicity, and insults score as insults."""
    scores = scorer.score_batch(TOXIC + CLEAN)
    for row in scores:
        assert set(row) == set(scorer.labels)
        assert all(0.0 <= row[label] <= row["toxicity"] for label in scorer.labels)
    if "insult" in scorer.labels:
        assert min(row["insult"] for row in scores[: len(TOXIC)]) > max(
            row["insult"] for row in scores[len(TOXIC) :]
        )


def test_toxic_scores_far_above_clean(scorer: LinearToxicityScorer) -> None:
    toxic = [s["toxicity"] for s in scorer.score_batch(TOXIC)]
    clean = [s["toxicity"] for s in scorer.score_batch(CLEAN)]
    assert min(toxic) > 0.8, toxic
    assert max(clean) < 0.2, clean


def test_scores_are_probabilities(scorer: LinearToxicityScorer) -> None:
    scores = scorer.score_batch(TOXIC + CLEAN + ["", "   ", "!!!", "a"])
    assert len(scores) == len(TOXIC + CLEAN) + 4
    for score in scores:
        assert set(score) == set(scorer.labels)
        assert all(isinstance(value, float) and 0.0 <= value <= 1.0 for value in score.values())


def test_empty_batch(scorer: LinearToxicityScorer) -> None:
    assert scorer.score_batch([]) == []


def test_unicode_and_very_long_input(scorer: LinearToxicityScorer) -> None:
    texts = [
        "Ça alors, quelle belle journée ! 🎉🔥 日本語のコメント \u200b\u0000 \ud83d",
        "ﷺ" * 50,
        "idiot " * 40_000,
        "x" * 300_000,
    ]
    scores = scorer.score_batch(texts)
    assert len(scores) == len(texts)
    assert all(0.0 <= value <= 1.0 for s in scores for value in s.values())


def test_shipped_artifact_is_small() -> None:
    assert DEFAULT_MODEL.stat().st_size < 20 * 1024 * 1024


def _sample_rows(n: int) -> tuple[list[str], np.ndarray]:
    path = default_data_path()
    if not path.exists():
        pytest.skip(f"shared training data not found at {path} (set STET_DATA_DIR to the shared data folder)")
    csv.field_size_limit(sys.maxsize)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(itertools.islice(csv.reader(f), 1, n + 1))
    return [text for _, text in rows], np.array([int(label) for label, _ in rows])


def test_numpy_inference_equals_sklearn_pipeline(tmp_path: Path) -> None:
    """The numpy scorer on a freshly fitted scikit-learn pipeline's weights scores exactly like it, and
    the artifact written from them (weights rounded to multiples of ``packing.STEP``) within
    ``packing.TOLERANCE``."""
    texts, y = _sample_rows(3000)
    train_texts, train_y, test_texts = texts[:2500], y[:2500], texts[2500:]
    blocks = [
        {"name": "word", "hashing": {"analyzer": "word", "ngram_range": [1, 2], "n_features": 2**16}},
        {"name": "char", "hashing": {"analyzer": "char_wb", "ngram_range": [2, 5], "n_features": 2**17}},
    ]
    pipeline = make_pipeline(
        FeatureUnion(
            [
                (block["name"], make_pipeline(make_vectorizer(block), TfidfTransformer(sublinear_tf=True)))
                for block in blocks
            ]
        ),
        LogisticRegression(C=4.0, max_iter=1000),
    )
    pipeline.fit(train_texts, train_y)
    union, model = pipeline.steps[0][1], pipeline.steps[-1][1]
    # A head: another logistic regression on the same features (here: "contains a question mark").
    head = LogisticRegression(C=1.0, max_iter=1000).fit(
        union.transform(train_texts), ["?" in text for text in train_texts]
    )
    idf = [union.named_transformers[b["name"]].steps[-1][1].idf_.astype(np.float32) for b in blocks]
    metadata = {"version": "test-1", "labels": ["toxicity", "question"]}
    model_path = tmp_path / "tiny.npz"
    save_artifact(
        model_path,
        blocks=blocks,
        idf=idf,
        coef=model.coef_,
        intercept=float(model.intercept_[0]),
        metadata=metadata,
        heads={"question": (head.coef_, float(head.intercept_[0]))},
    )
    head_index = np.flatnonzero(head.coef_)
    in_memory = LinearToxicityScorer(
        {**metadata, "features": {"blocks": blocks}},
        idf,
        np.split(model.coef_.ravel(), [2**16]),
        float(model.intercept_[0]),
        {"question": (head_index, head.coef_.ravel()[head_index], float(head.intercept_[0]))},
    )

    scorer = LinearToxicityScorer.load(model_path)
    assert scorer.version == "test-1" and scorer.labels == ("toxicity", "question")
    assert scorer.metadata["storage"]["step"] == packing.STEP
    probe = test_texts + ["", "ünïcödé 🎉", "idiot idiot idiot"]
    expected = pipeline.predict_proba(probe)[:, 1]
    expected = np.column_stack([expected, expected * head.predict_proba(union.transform(probe))[:, 1]])
    exact = np.array([[s["toxicity"], s["question"]] for s in in_memory.score_batch(probe)])
    np.testing.assert_allclose(exact, expected, rtol=0, atol=1e-4)
    stored = np.array([[s["toxicity"], s["question"]] for s in scorer.score_batch(probe)])
    np.testing.assert_allclose(stored, exact, rtol=0, atol=packing.TOLERANCE)
    # The weights were rounded (each by half a step at most), and nothing else: the IDF is exact.
    assert 0 < np.abs(stored - exact).max()
    for stored_idf, exact_idf in zip(scorer.idf, in_memory.idf, strict=True):
        np.testing.assert_array_equal(stored_idf, exact_idf)
    for stored_coef, exact_coef in zip(scorer.coef, in_memory.coef, strict=True):
        assert np.abs(stored_coef - exact_coef).max() <= packing.STEP / 2
