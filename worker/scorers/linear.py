"""A compact linear toxicity model: hashed word and character n-grams, TF-IDF, logistic regression.

The artifact is deliberately not a pickle (unsafe to load, and tied to one scikit-learn version).
It is a pair of files with the same stem:

* ``<stem>.npz`` - plain arrays, stored compactly (``packing.py``): per feature block ``idf_<block>``
  (a table: ``idf_<block>_values`` and each hashed feature's position among them, lossless) and
  ``coef_<block>`` (one weight per hashed feature, multiples of ``step``), and ``intercept``;
* ``<stem>.json`` - metadata: ``version``, the feature configuration, the storage format, the
  training data, the date and the held-out metrics.

Features are hashed, so the artifact needs no vocabulary: training uses scikit-learn's stateless
``HashingVectorizer`` and inference makes the same features with numpy and mmh3 (``hashing.py``).
For each block the raw counts ``c`` become ``(1 + ln c) * idf`` and are L2-normalised per block
(exactly what ``TfidfTransformer(sublinear_tf=True)`` does); the probability is
``sigmoid(sum of block dot products with coef + intercept)``. This equals ``predict_proba`` of the
equivalent scikit-learn pipeline (a ``FeatureUnion`` of one ``HashingVectorizer`` +
``TfidfTransformer`` per block, then ``LogisticRegression``).

Labels beyond ``toxicity`` are *heads* on the same features: a head for label ``L`` is a logistic
regression ``q_L`` trained on the few comments labelled with types of toxicity, and the score is
``P(toxicity) * q_L``, so the large toxicity model decides *whether* a comment is toxic and the
small head *which kind*. A head is stored as ``head_<label>`` (one weight per feature of the
blocks laid end to end, mostly 0) and ``head_<label>_intercept``; it is scored sparse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from worker import spans
from worker.scorers import ENGLISH, packing
from worker.scorers.hashing import SparseRows, SparseWeights, hashed_counts, sigmoid
from worker.spans import SpanRule

MODELS_DIR = Path(__file__).resolve().parent / "models"
# The shipped model; a new model version is shipped by adding its files and changing this stem.
DEFAULT_MODEL = MODELS_DIR / "toxicity-linear-2.npz"

# Feature blocks used by training. Each ``hashing`` dict is passed to ``HashingVectorizer`` as is,
# and is stored in the artifact metadata so inference rebuilds exactly the same features (``hashing.py``).
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
    heads: dict[str, tuple[np.ndarray, float]] | None = None,
) -> None:
    """Write ``model_path`` (.npz) and its metadata JSON.

    ``idf`` holds one array per block; ``coef`` is the logistic regression's coefficient vector
    over the blocks' features laid end to end, in block order; ``heads`` maps a label to its
    head's (coefficients in the same layout, intercept). ``metadata`` must contain ``version``;
    the feature configuration and the storage format are added here. Weights are rounded to
    multiples of ``packing.STEP`` (scores move by less than ``packing.TOLERANCE``); IDF is stored
    exactly (as float32).
    """
    sizes = [block["hashing"]["n_features"] for block in blocks]
    coef = np.asarray(coef).ravel()
    if coef.size != sum(sizes) or [w.size for w in idf] != sizes:
        raise ValueError("idf/coef sizes do not match the feature blocks")
    arrays: dict[str, np.ndarray] = {
        "intercept": np.array([intercept], dtype=np.float64),
        "step": np.array(packing.STEP),
    }
    for block, block_idf, block_coef in zip(blocks, idf, np.split(coef, np.cumsum(sizes)[:-1]), strict=True):
        name = block["name"]
        arrays[f"idf_{name}_values"], arrays[f"idf_{name}"] = packing.pack_table(
            np.asarray(block_idf, dtype=np.float32)
        )
        arrays[f"coef_{name}"] = packing.pack(block_coef)
    for label, (head_coef, head_intercept) in (heads or {}).items():
        arrays[f"head_{label}"] = packing.pack(head_coef)
        arrays[f"head_{label}_intercept"] = np.array([head_intercept], dtype=np.float64)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(model_path, **arrays)
    meta = {
        **metadata,
        "features": {"blocks": list(blocks), "sublinear_tf": True, "norm": "l2 per block"},
        "storage": {
            **packing.STORAGE,
            "idf": "lossless: the distinct float32 values and each feature's position among them",
        },
    }
    metadata_path(model_path).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


class LinearToxicityScorer:
    """Scores texts with a hashed TF-IDF logistic regression: ``toxicity`` and the heads' labels."""

    name = "linear"
    languages = reads = ENGLISH  # trained and measured on English comments

    def __init__(
        self,
        metadata: dict[str, Any],
        idf: Sequence[np.ndarray],
        coef: Sequence[np.ndarray],
        intercept: float,
        heads: dict[str, tuple[np.ndarray, np.ndarray, float]] | None = None,
    ) -> None:
        self.metadata = metadata
        self.version: str = metadata["version"]
        self.blocks: list[dict[str, Any]] = metadata["features"]["blocks"]
        self.idf = [np.asarray(w, dtype=np.float64) for w in idf]
        self.coef = [np.asarray(c, dtype=np.float64) for c in coef]
        self.intercept = float(intercept)
        heads = heads or {}
        self.labels: tuple[str, ...] = ("toxicity", *heads)
        # All heads as one (features x heads) matrix: one sparse product scores every head.
        self._head_coef = SparseWeights.from_entries(
            np.concatenate([index for index, _, _ in heads.values()] or [np.zeros(0, np.int32)]),
            np.repeat(np.arange(len(heads)), [index.size for index, _, _ in heads.values()]),
            np.concatenate([values for _, values, _ in heads.values()] or [np.zeros(0)]).astype(np.float64),
            (sum(c.size for c in self.coef), len(heads)),
        )
        self._head_intercept = np.array([b for _, _, b in heads.values()], dtype=np.float64)
        self._coef = np.concatenate(self.coef)
        self._span_rule = SpanRule.from_metadata(metadata)

    @classmethod
    def load(cls, path: Path | None = None) -> LinearToxicityScorer:
        """Load an ``.npz`` artifact and its JSON metadata (default: the shipped model), decoding
        its weights (``packing``) once."""
        path = Path(path) if path is not None else DEFAULT_MODEL
        metadata = json.loads(metadata_path(path).read_text(encoding="utf-8"))
        names = [block["name"] for block in metadata["features"]["blocks"]]
        with np.load(path, allow_pickle=False) as arrays:
            step = float(arrays["step"])
            idf = [packing.unpack_table(arrays[f"idf_{n}_values"], arrays[f"idf_{n}"]) for n in names]
            coef = [packing.unpack(arrays[f"coef_{n}"], step) for n in names]
            intercept = float(arrays["intercept"][0])
            heads: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
            for label in metadata.get("labels", ["toxicity"])[1:]:
                weights = packing.unpack(arrays[f"head_{label}"], step)
                index = np.flatnonzero(weights)
                heads[label] = (index, weights[index], float(arrays[f"head_{label}_intercept"][0]))
        scorer = cls(metadata, idf, coef, intercept, heads)
        packing.release_freed_memory()
        return scorer

    def features(self, texts: Sequence[str]) -> SparseRows:
        """The texts' TF-IDF features: each block's L2-normalised row, blocks side by side."""
        # Lone surrogates (e.g. from JSON "\ud83d") cannot be UTF-8 encoded for hashing: make them "?".
        texts = [text.encode("utf-8", "replace").decode("utf-8") for text in texts]
        blocks = []
        for block, idf in zip(self.blocks, self.idf, strict=True):
            x = hashed_counts(texts, block["hashing"])
            x = x.with_data((np.log(x.data) + 1.0) * idf[x.indices])
            norms = np.sqrt(x.with_data(x.data * x.data).row_sums())
            norms[norms == 0.0] = 1.0  # a text without features of this block adds nothing
            blocks.append(x.scaled(1.0 / norms))
        return SparseRows.hstack(blocks)

    def log_odds(self, x: SparseRows) -> tuple[np.ndarray, np.ndarray]:
        """Log-odds of toxicity (n,) and of each head (n, heads), from ``features``."""
        z = x.dot(self._coef) + self.intercept
        heads = x.matmul(self._head_coef) + self._head_intercept
        return z, heads

    def _log_odds(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        return self.log_odds(self.features(texts))

    def decision_function(self, texts: Sequence[str]) -> np.ndarray:
        """The toxicity logistic regression's log-odds for each text."""
        return self._log_odds(texts)[0]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of toxicity for each text, as a float64 array."""
        if len(texts) == 0:
            return np.zeros(0)
        return sigmoid(self.decision_function(texts))

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if len(texts) == 0:
            return []
        z, heads = self._log_odds(texts)
        toxicity = sigmoid(z)
        scores = np.column_stack([toxicity, toxicity[:, None] * sigmoid(heads)])
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in scores]

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """The character spans that drove each text's toxicity score (see ``worker/spans.py``)."""
        return spans.explain(self, texts, self._span_rule)
