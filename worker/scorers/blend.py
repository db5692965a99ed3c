"""The default ``ensemble`` and a fine-tuned transformer, averaged (``STET_SCORERS=blend``).

Each attribute's score is the logistic of the mean of the two models' log-odds; an attribute the
transformer does not give keeps the ensemble's score. On the held-out rows of every training set the
mean of the ensemble and the seven-attribute MiniLM (``stet model train --task minilm``) ranks abuse
better than either alone (README, "Transformers"), and a weighted blend fitted on the validation rows
did no better than the plain mean, so the mean it is. Spans, languages and what the scorer reads are
the ensemble's: the transformer reads English best, and the mean keeps the ensemble's German. The
transformer reads each text as both were trained on it (``ensemble.prepare``: mentions and links
removed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from worker.scorers.ensemble import EnsembleScorer, prepare

EPSILON = 1e-6  # scores are clipped this far from 0 and 1 before taking log-odds


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


class BlendScorer:
    name = "blend"

    def __init__(self, ensemble: EnsembleScorer, transformer: Any) -> None:
        self.ensemble, self.transformer = ensemble, transformer
        self.labels = ensemble.labels
        self.languages, self.reads = ensemble.languages, ensemble.reads
        self.version = f"{ensemble.version}+{transformer.version}"
        self.shared = tuple(label for label in self.labels if label in transformer.labels)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        ours = self.ensemble.score_batch(texts)
        theirs = self.transformer.score_batch([prepare(t) for t in texts])
        out = []
        for e, t in zip(ours, theirs, strict=True):
            a = _log_odds(np.array([e[label] for label in self.shared]))
            b = _log_odds(np.array([t[label] for label in self.shared]))
            mean = 1.0 / (1.0 + np.exp(-(a + b) / 2))
            out.append(e | dict(zip(self.shared, map(float, mean), strict=True)))
        return out

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        return self.ensemble.explain(texts)
