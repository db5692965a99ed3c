"""A compact linear toxicity model: hashed word and character n-grams, TF-IDF, logistic regression.

The artifact is deliberately not a pickle (unsafe to load, and tied to one scikit-learn version).
It is a pair of files with the same stem:

* ``<stem>.npz`` - plain arrays: per feature block ``idf_<block>`` and ``coef_<block>`` (float32,
  one value per hashed feature), and ``intercept``;
* ``<stem>.json`` - metadata: ``version``, the feature configuration, the training data, the date
  and the held-out metrics.

Features are recomputed at inference with scikit-learn's stateless ``HashingVectorizer``, so the
artifact needs no vocabulary. For each block the raw counts ``c`` become ``(1 + ln c) * idf`` and
are L2-normalised per block (exactly what ``TfidfTransformer(sublinear_tf=True)`` does); the
probability is ``sigmoid(sum of block dot products with coef + intercept)``. This equals
``predict_proba`` of the equivalent scikit-learn pipeline (a ``FeatureUnion`` of one
``HashingVectorizer`` + ``TfidfTransformer`` per block, then ``LogisticRegression``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.feature_extraction.text import HashingVectorizer

MODELS_DIR = Path(__file__).resolve().parent / "models"
# The shipped model; a new model version is shipped by adding its files and changing this stem.
DEFAULT_MODEL = MODELS_DIR / "toxicity-linear-1.npz"

# Feature blocks used by training. Each ``hashing`` dict is passed to ``HashingVectorizer`` as is,
# and is stored in the artifact metadata so inference rebuilds exactly the same features.
FEATURE_BLOCKS: list[dict[str, Any]] = [
    {
        "name": "word",
        "hashing": {
            "analyzer": "word",
            "ngram_range": [1, 2],
            "n_features": 2**19,
            "lowercase": True,
            "token_pattern": r"(?u)\b\w\w+\b",
        },
    },
    {
        "name": "char",
        "hashing": {
            "analyzer": "char_wb",
            "ngram_range": [2, 5],
            "n_features": 2**19,
            "lowercase": True,
        },
    },
]


def make_vectorizer(block: dict[str, Any], dtype: type = np.float64) -> HashingVectorizer:
    """The raw-count hashing vectorizer of one feature block (idf and norm are applied later)."""
    kwargs = dict(block["hashing"])
    kwargs["ngram_range"] = tuple(kwargs["ngram_range"])
    return HashingVectorizer(**kwargs, alternate_sign=False, norm=None, dtype=dtype)


def metadata_path(model_path: Path) -> Path:
    """The JSON metadata file that belongs to an ``.npz`` artifact."""
    return model_path.with_suffix(".json")


def save_artifact(
    model_path: Path,
    *,
    blocks: Sequence[dict[str, Any]],
    idf: Sequence[np.ndarray],
    coef: np.ndarray,
    intercept: float,
    metadata: dict[str, Any],
) -> None:
    """Write ``model_path`` (.npz) and its metadata JSON.

    ``idf`` holds one array per block; ``coef`` is the logistic regression's coefficient vector
    over the blocks' features laid end to end, in block order. ``metadata`` must contain
    ``version``; the feature configuration is added here.
    """
    sizes = [block["hashing"]["n_features"] for block in blocks]
    coef = np.asarray(coef).ravel()
    if coef.size != sum(sizes) or [w.size for w in idf] != sizes:
        raise ValueError("idf/coef sizes do not match the feature blocks")
    arrays: dict[str, np.ndarray] = {"intercept": np.array([intercept], dtype=np.float64)}
    for block, block_idf, block_coef in zip(blocks, idf, np.split(coef, np.cumsum(sizes)[:-1]), strict=True):
        arrays[f"idf_{block['name']}"] = np.asarray(block_idf, dtype=np.float32)
        arrays[f"coef_{block['name']}"] = block_coef.astype(np.float32)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(model_path, **arrays)
    meta = {**metadata, "features": {"blocks": list(blocks), "sublinear_tf": True, "norm": "l2 per block"}}
    metadata_path(model_path).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


class LinearToxicityScorer:
    """Scores texts with a hashed TF-IDF logistic regression; one label, ``toxicity``."""

    name = "linear"
    labels = ("toxicity",)

    def __init__(
        self,
        metadata: dict[str, Any],
        idf: Sequence[np.ndarray],
        coef: Sequence[np.ndarray],
        intercept: float,
    ) -> None:
        self.metadata = metadata
        self.version: str = metadata["version"]
        blocks = metadata["features"]["blocks"]
        self._vectorizers = [make_vectorizer(block) for block in blocks]
        self._idf = [np.asarray(w, dtype=np.float64) for w in idf]
        self._coef = [np.asarray(c, dtype=np.float64) for c in coef]
        self._intercept = float(intercept)

    @classmethod
    def load(cls, path: Path | None = None) -> LinearToxicityScorer:
        """Load an ``.npz`` artifact and its JSON metadata (default: the shipped model)."""
        path = Path(path) if path is not None else DEFAULT_MODEL
        metadata = json.loads(metadata_path(path).read_text(encoding="utf-8"))
        names = [block["name"] for block in metadata["features"]["blocks"]]
        with np.load(path, allow_pickle=False) as arrays:
            idf = [arrays[f"idf_{n}"] for n in names]
            coef = [arrays[f"coef_{n}"] for n in names]
            intercept = float(arrays["intercept"][0])
        return cls(metadata, idf, coef, intercept)

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """The logistic regression's log-odds for each text."""
        # Lone surrogates (e.g. from JSON "\ud83d") cannot be UTF-8 encoded for hashing: make them "?".
        texts = [text.encode("utf-8", "replace").decode("utf-8") for text in texts]
        z = np.full(len(texts), self._intercept)
        for vectorizer, idf, coef in zip(self._vectorizers, self._idf, self._coef, strict=True):
            x = sp.csr_matrix(vectorizer.transform(texts))
            x.data = (np.log(x.data) + 1.0) * idf[x.indices]
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
            norms[norms == 0.0] = 1.0  # a text without features of this block adds nothing
            z += (x @ coef) / norms
        return z

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of toxicity for each text, as a float64 array."""
        if len(texts) == 0:
            return np.zeros(0)
        return expit(self.decision_function(texts))

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"toxicity": float(p)} for p in self.predict_proba(texts)]
