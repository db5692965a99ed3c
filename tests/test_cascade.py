"""The cascade sends only the linear model's uncertain band to the transformer; the band comes from data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from service.config import Settings
from worker.scorers.cascade import CascadeScorer, choose_band, decisions
from worker.scorers.linear import LinearToxicityScorer

TEXTS = [
    "Thanks for the thoughtful article, I learned a lot.",
    "I disagree with the mayor's plan but the reporting is fair.",
    "This is a stupid take.",
    "You are a pathetic idiot and everyone hates you.",
    "Shut up you worthless moron, go die.",
    "As a gay man I found this piece moving.",
]


class RecordingTransformer:
    """Stands in for the transformer: remembers what it was asked to score and says 0.5 for all."""

    name, version, labels = "recorder", "r-1", ("toxicity", "insult")

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.seen.extend(texts)
        return [{"toxicity": 0.5, "insult": 0.25} for _ in texts]


@pytest.fixture(scope="module")
def linear() -> LinearToxicityScorer:
    return LinearToxicityScorer.load()


def test_only_comments_in_the_band_reach_the_transformer(linear: LinearToxicityScorer) -> None:
    plain = linear.score_batch(TEXTS)
    toxicity = sorted(s["toxicity"] for s in plain)
    low, high = (toxicity[1] + toxicity[2]) / 2, (toxicity[3] + toxicity[4]) / 2  # the middle two
    transformer = RecordingTransformer()
    cascade = CascadeScorer(linear, transformer, low, high)
    scores = cascade.score_batch(TEXTS)
    in_band = [t for t, s in zip(TEXTS, plain, strict=True) if low <= s["toxicity"] < high]
    assert transformer.seen == in_band and len(in_band) == 2
    for text, got, base in zip(TEXTS, scores, plain, strict=True):
        assert set(got) == set(linear.labels)  # the cascade's labels are the linear model's
        if text in in_band:
            assert got["toxicity"] == 0.5
        else:
            assert got == base
    assert cascade.version == f"{linear.version}+r-1@{low:g}-{high:g}"


def test_no_band_no_transformer(linear: LinearToxicityScorer) -> None:
    transformer = RecordingTransformer()
    assert CascadeScorer(linear, transformer, 0.5, 0.5).score_batch(TEXTS) == linear.score_batch(TEXTS)
    assert transformer.seen == []


def test_band_covers_where_the_models_disagree() -> None:
    rng = np.random.default_rng(0)
    fast = rng.uniform(0, 1, 4000)
    slow = fast.copy()
    unsure = (fast > 0.3) & (fast < 0.6)
    slow[unsure] = rng.choice([0.01, 0.99], unsure.sum())  # the transformer is sure where it is not
    band = choose_band(fast, slow, 0.08, 0.97, target=0.995)
    assert band["agreement"] >= 0.995
    assert 0.28 < band["low"] < 0.33 and 0.57 < band["high"] < 0.62
    assert band["routed_share"] == pytest.approx(unsure.mean(), abs=0.03)
    routed = (fast >= band["low"]) & (fast < band["high"])
    cascade = np.where(routed, slow, fast)
    same = decisions(cascade, 0.08, 0.97) == decisions(slow, 0.08, 0.97)
    assert same.mean() == pytest.approx(band["agreement"])


def test_no_band_when_the_models_agree() -> None:
    scores = np.linspace(0, 1, 1000)
    band = choose_band(scores, scores**0.99, 0.08, 0.97, target=0.99)
    assert band["routed_share"] <= 0.01 and band["agreement"] >= 0.99


def test_band_is_read_from_the_card_for_this_linear_model_and_thresholds(
    linear: LinearToxicityScorer, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "model.ckpt"
    settings = Settings(detoxify_checkpoint=str(checkpoint))
    thresholds = {"approve_below": settings.approve_below, "reject_above": settings.reject_above}
    card = {"cascade": {"linear_version": linear.version, "thresholds": thresholds, "low": 0.1, "high": 0.8}}
    checkpoint.with_suffix(".json").write_text(json.dumps(card))
    cascade = CascadeScorer.from_settings(settings, RecordingTransformer())
    assert (cascade.low, cascade.high) == (0.1, 0.8)

    other = Settings(detoxify_checkpoint=str(checkpoint), reject_above=0.9)
    with pytest.raises(ValueError, match="STET_CASCADE_BAND"):
        CascadeScorer.from_settings(other, RecordingTransformer())
    chosen = Settings(detoxify_checkpoint=str(checkpoint), reject_above=0.9, cascade_band="0.2,0.7")
    cascade = CascadeScorer.from_settings(chosen, RecordingTransformer())
    assert (cascade.low, cascade.high) == (0.2, 0.7)
