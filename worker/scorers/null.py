"""A scorer that scores nothing: for unit tests that must not load a model."""

from __future__ import annotations

from collections.abc import Sequence

from worker.scorers import ENGLISH


class NullScorer:
    name = "null"
    languages = reads = ENGLISH  # scores nothing; the policy queues what it leaves unscored
    version = "0"
    labels = ("toxicity",)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"toxicity": 0.0} for _ in texts]
