"""The default scorer: all seven Perspective attributes from a multilingual encoder and n-gram heads.

For each comment (``prepare``d: mentions and links removed) three views are stacked:

* the multilingual Universal Sentence Encoder's 512 numbers (``encoder.py``): what it means, in 16
  languages;
* the compact linear model's TF-IDF features (``linear.py``), its four log-odds, and one n-gram
  logistic regression per attribute trained on the per-attribute sets: the words it uses;
* a small network, (512 + 4 + 7) → 256 → 7, turns them into one probability per attribute.

Training is ``worker/training/attributes.py``; ``save_artifact`` writes what it trained: the network
in float32, the n-gram heads (mostly zeros) compactly as multiples of a small step (``packing.py``).
All numpy: no torch, no download. ``explain``
gives the linear model's spans without those that are only identity terms ("Black" in "Black
residents deserve answers" names a group; it is not abuse).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from worker.identity import terms_in
from worker.scorers import ENGLISH, packing
from worker.scorers.encoder import READS, Encoder
from worker.scorers.hashing import SparseWeights, sigmoid
from worker.scorers.linear import MODELS_DIR, LinearToxicityScorer

DEFAULT_MODEL = MODELS_DIR / "attributes-use-2.npz"
SPARSE_KEEP = 1e-3  # n-gram head weights smaller than this are not shipped (they move no score by 0.01)
# Mentions, links and retweet marks say where a text was posted, not whether it is abusive; in the
# training data they mark whole sets (MLMA's hostile tweets all start "@user"), so the model never sees them.
_NOISE = re.compile(r"(?:^\s*rt\b:?|@\w+|\[(?:user|url)\]|https?://\S+|www\.\S+)", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\bURL\b")  # OLID's and others' stand-in for a link


def prepare(text: str) -> str:
    """The text the models read: HTML entities decoded, mentions, links and "RT" removed."""
    return " ".join(_PLACEHOLDER.sub(" ", _NOISE.sub(" ", html.unescape(text))).split())


def save_artifact(
    path: Path,
    card: dict[str, Any],
    state: dict[str, np.ndarray],
    sparse: np.ndarray,
    sparse_intercept: np.ndarray,
) -> None:
    """Write ``path`` (.npz) and its card (.json, with the storage format added): the network's
    ``state`` (w1, b1, w2, b2), the n-gram heads' weights ``sparse`` (features × labels; 0 where
    none is kept) and their intercepts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        path,
        **{k: np.asarray(v, dtype=np.float32) for k, v in state.items()},
        sparse=packing.pack(np.asarray(sparse).T),  # labels × features: each label's run of zeros together
        sparse_intercept=np.asarray(sparse_intercept, dtype=np.float32),
        step=np.array(packing.STEP),
    )
    network = "float32 (w1, b1, w2, b2); the weights are the n-gram heads' (sparse, labels x features)"
    card = {**card, "storage": {**packing.STORAGE, "network": network}}
    path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")


def validated_languages(card: dict[str, Any] | None = None) -> frozenset[str]:
    """The languages a model card (the shipped one by default) validates; English alone when it
    measured none."""
    if card is None:
        card = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    return frozenset(card.get("languages", {}).get("validated", ENGLISH))


class EnsembleScorer:
    name = "ensemble"

    def __init__(
        self,
        card: dict[str, Any],
        arrays: dict[str, np.ndarray],
        linear: LinearToxicityScorer,
        encoder: Encoder,
    ) -> None:
        self.card, self.linear, self.encoder = card, linear, encoder
        self.labels: tuple[str, ...] = tuple(card["labels"])
        self.languages = validated_languages(card)
        self.reads = READS
        self.version = f"{card['version']}+{linear.version}"
        self.state = {k: arrays[k] for k in ("w1", "b1", "w2", "b2")}
        # The n-gram heads' weights, (features, labels) and mostly zeros, scored sparse.
        sparse = np.ascontiguousarray(arrays["sparse"])
        kept = np.flatnonzero(sparse)  # by feature, then label (much faster than a 2-D nonzero)
        feature, label = np.divmod(kept, sparse.shape[1])
        self.sparse = SparseWeights.from_entries(
            feature,
            label.astype(np.int8),
            sparse.ravel()[kept].astype(np.float32),
            (sum(c.size for c in linear.coef), len(self.labels)),
        )
        self.sparse_intercept = arrays["sparse_intercept"].astype(np.float32)

    @classmethod
    def load(cls, path: Path | None = None, threads: int = 1) -> EnsembleScorer:
        """Load an artifact ``save_artifact`` wrote (default: the shipped one), decoding it once."""
        path = Path(path) if path is not None else DEFAULT_MODEL
        card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        sparse = packing.unpack(arrays["sparse"], float(arrays["step"]), np.float32)
        arrays["sparse"] = sparse.reshape(len(card["labels"]), -1).T
        scorer = cls(card, arrays, LinearToxicityScorer.load(), Encoder(threads=threads))
        del arrays, sparse
        packing.release_freed_memory()
        return scorer

    @staticmethod
    def stack(state: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
        """The network's logits for rows of (encoder, linear log-odds / 4, n-gram heads / 4)."""
        hidden = np.maximum(features @ state["w1"] + state["b1"], 0.0)
        return hidden @ state["w2"] + state["b2"]

    def features(self, texts: Sequence[str]) -> np.ndarray:
        prepared = [prepare(t) for t in texts]
        x = self.linear.features(prepared).astype(np.float32)
        z, heads = self.linear.log_odds(x)
        sparse = x.matmul(self.sparse) + self.sparse_intercept
        odds = np.column_stack([z, heads])
        return np.hstack([self.encoder.encode(prepared), odds / 4, sparse / 4]).astype(np.float32)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        p = sigmoid(self.stack(self.state, self.features(texts)).astype(np.float64))
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in p]

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """The linear model's toxic spans, with identity terms trimmed off their ends: a span that
        was only "Black" is gone, "gay idiots" becomes "idiots"."""
        out = []
        for text, spans in zip(texts, self.linear.explain(texts), strict=True):
            kept = []
            for start, end, weight in spans:
                words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
                while words and terms_in(text[slice(*words[0])]):
                    words.pop(0)
                while words and terms_in(text[slice(*words[-1])]):
                    words.pop()
                if words:
                    kept.append((words[0][0], words[-1][1], weight))
            out.append(kept)
        return out


_WORD = re.compile(r"[\w'’-]+")
