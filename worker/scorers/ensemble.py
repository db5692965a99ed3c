"""The default scorer: all seven Perspective attributes from a multilingual encoder, with the linear model.

Every comment is encoded by the multilingual Universal Sentence Encoder (``encoder.py``); a small
network (512 → 256 → 7, ``attribute_training.py``) turns the vector into one logit per attribute.
Where the compact linear model has the same label (``toxicity``, ``obscene``, ``insult``,
``identity_attack``) the two logits are blended as the model card says (weights fitted on
validation rows). All numpy: no torch, no download. ``explain`` gives the linear model's spans
without those that are only identity terms ("Black" in "Black residents deserve answers" names a
group; it is not abuse).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, logit

from worker.identity import terms_in
from worker.scorers.encoder import Encoder
from worker.scorers.linear import MODELS_DIR, LinearToxicityScorer

DEFAULT_MODEL = MODELS_DIR / "attributes-use-1.npz"
EPS = 1e-6


class EnsembleScorer:
    name = "ensemble"

    def __init__(
        self,
        card: dict[str, Any],
        state: dict[str, np.ndarray],
        linear: LinearToxicityScorer,
        encoder: Encoder,
    ) -> None:
        self.card, self.state, self.linear, self.encoder = card, state, linear, encoder
        self.labels: tuple[str, ...] = tuple(card["labels"])
        self.blends: dict[str, dict[str, float]] = card.get("blends", {})
        self.version = f"{card['version']}+{linear.version}"

    @classmethod
    def load(cls, path: Path | None = None, threads: int = 1) -> EnsembleScorer:
        path = Path(path) if path is not None else DEFAULT_MODEL
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path, allow_pickle=False) as arrays:
            state = {k: arrays[k].astype(np.float32) for k in ("w1", "b1", "w2", "b2")}
        return cls(card, state, LinearToxicityScorer.load(), Encoder(threads=threads))

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, one blended logit per label."""
        x = self.encoder.encode(texts)
        out = np.maximum(x @ self.state["w1"] + self.state["b1"], 0.0) @ self.state["w2"] + self.state["b2"]
        out = out.astype(np.float64)
        if self.blends:
            linear = self.linear.score_batch(texts)
            for label, blend in self.blends.items():
                j = self.labels.index(label)
                theirs = logit(np.clip([s[label] for s in linear], EPS, 1 - EPS))
                out[:, j] = blend["a"] * out[:, j] + blend["b"] * theirs + blend["c"]
        return out

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        p = expit(self.logits(texts))
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in p]

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """The linear model's toxic spans, less those made only of identity terms."""
        return [
            [(start, end, w) for start, end, w in spans if not _only_identity(text[start:end])]
            for text, spans in zip(texts, self.linear.explain(texts), strict=True)
        ]


def _only_identity(span: str) -> bool:
    words = [w for w in span.split() if w.strip(".,;:!?\"'()")]
    return bool(words) and all(terms_in(w) for w in words)
