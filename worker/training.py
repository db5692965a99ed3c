"""Training and evaluation of the linear toxicity model (``worker/scorers/linear.py``).

Data: the ``jigsaw_binary`` set of the shared data folder (Jigsaw talk-page comments plus the
Davidson tweets, one label ``is_offensive``). Exact duplicate texts are merged before splitting
(a text labelled both ways counts as offensive), so no text is in both the training and the test
part. The test part is a stratified 10% held out with a fixed seed; ``evaluate_toxicity``
recomputes it from the seed stored in the model's metadata. The regularisation strength ``C`` is
chosen on a validation part carved from the training part, never on the test part.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from sklearn.model_selection import train_test_split
from tqdm import tqdm

from worker.scorers.linear import (
    FEATURE_BLOCKS,
    MODELS_DIR,
    LinearToxicityScorer,
    make_vectorizer,
    metadata_path,
    save_artifact,
)

DATA_ENV = "STET_DATA_DIR"  # points at the shared ``data`` folder
DATASET = "jigsaw_binary/clean_data.csv.gz"
MODEL_VERSION = "tfidf-lr-1"
MODEL_FILE = "toxicity-linear-1.npz"

TEST_SIZE = 0.1
VALIDATION_SIZE = 0.1  # of the training part
C_GRID = (1.0, 2.0, 4.0, 8.0)
REPORT_THRESHOLDS = (0.1, 0.25, 0.5, 0.75, 0.9)
TARGET_PRECISION = 0.95  # for the suggested reject-above threshold
TARGET_NPV = 0.99  # for the suggested approve-below threshold
CHUNK_ROWS = 4096


def default_data_path() -> Path:
    """The training CSV: under ``$STET_DATA_DIR`` if set, else ``../shared/data`` next to the repo."""
    data_dir = os.environ.get(DATA_ENV)
    if data_dir:
        return Path(data_dir) / DATASET
    return Path(__file__).resolve().parents[1].parent / "shared/data" / DATASET


def load_dataset(path: Path, progress: bool = True) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Read ``is_offensive,text`` rows, merge exact duplicates and drop blank texts.

    Returns the texts (in first-seen order), their 0/1 labels and a description of the data.
    """
    csv.field_size_limit(sys.maxsize)  # some comments are longer than csv's default field limit
    labels: dict[str, int] = {}
    rows = 0
    sha = hashlib.sha256()
    with open(path, "rb") as raw:
        with tqdm.wrapattr(
            raw,
            "read",
            total=path.stat().st_size,
            desc="loading",
            disable=not progress,
            file=sys.stderr,
        ) as wrapped:
            with gzip.open(_Hashing(wrapped, sha), "rt", encoding="utf-8", newline="") as text:
                reader = csv.reader(text)
                if next(reader) != ["is_offensive", "text"]:
                    raise ValueError(f"{path}: expected the columns is_offensive,text")
                for label, comment in reader:
                    rows += 1
                    if comment.strip():
                        labels[comment] = max(labels.get(comment, 0), int(label))
    texts = list(labels)
    y = np.fromiter(labels.values(), dtype=np.int8, count=len(texts))
    info = {
        "data": "/".join(path.parts[-2:]),
        "data_sha256": sha.hexdigest(),
        "rows_read": rows,
        "rows_used": len(texts),
        "positives": int(y.sum()),
    }
    return texts, y, info


class _Hashing:
    """A read-only file wrapper that hashes the bytes read through it."""

    def __init__(self, file: Any, sha: Any) -> None:
        self._file = file
        self._sha = sha

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._sha.update(chunk)
        return chunk


def split_indices(y: np.ndarray, seed: int, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified (train, test) row indices."""
    return train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)


def _count_features(texts: Sequence[str], progress: bool) -> list[sp.csr_matrix]:
    """Raw hashed n-gram counts of every text, one float32 matrix per feature block."""
    vectorizers = [make_vectorizer(block, dtype=np.float32) for block in FEATURE_BLOCKS]
    chunks: list[list[sp.csr_matrix]] = [[] for _ in vectorizers]
    with tqdm(
        total=len(texts), desc="featurising", unit="text", disable=not progress, file=sys.stderr
    ) as bar:
        for start in range(0, len(texts), CHUNK_ROWS):
            batch = texts[start : start + CHUNK_ROWS]
            for vectorizer, block_chunks in zip(vectorizers, chunks, strict=True):
                block_chunks.append(sp.csr_matrix(vectorizer.transform(batch)))
            bar.update(len(batch))
    return [sp.vstack(block_chunks, format="csr") for block_chunks in chunks]


def _fit(
    counts: list[sp.csr_matrix], y: np.ndarray, rows: np.ndarray, C: float
) -> tuple[list[TfidfTransformer], LogisticRegression]:
    """Fit per-block TF-IDF and the logistic regression on ``rows``."""
    tfidfs = [TfidfTransformer(sublinear_tf=True).fit(block[rows]) for block in counts]
    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(_tfidf(counts, rows, tfidfs), y[rows])
    return tfidfs, model


def _tfidf(counts: list[sp.csr_matrix], rows: np.ndarray, tfidfs: list[TfidfTransformer]) -> sp.csr_matrix:
    return sp.hstack(
        [tfidf.transform(block[rows]) for tfidf, block in zip(tfidfs, counts, strict=True)], format="csr"
    )


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """ROC AUC, average precision, precision/recall at fixed thresholds and policy thresholds."""
    p = np.asarray(p, dtype=np.float64)
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)),
        "average_precision": float(average_precision_score(y, p)),
        "at_thresholds": [_flagged_stats(y, p, t) for t in REPORT_THRESHOLDS],
        "suggested_thresholds": suggest_thresholds(y, p),
    }


def suggest_thresholds(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Policy defaults: reject at/above a score with precision >= 95%, approve below a score with NPV >= 99%.

    ``reject_above`` is the lowest threshold whose flagged comments (score >= threshold) are at
    least ``TARGET_PRECISION`` toxic, rounded up to 3 decimals; ``approve_below`` is the highest
    threshold under which (score < threshold) at least ``TARGET_NPV`` of comments are non-toxic,
    rounded down to 3 decimals. The reported precision/NPV are those of the rounded thresholds.
    Both depend on the share of toxic comments in the data, so re-check them on real traffic.
    """
    p = np.asarray(p, dtype=np.float64)
    precision, _, thresholds = precision_recall_curve(y, p)
    reaching = np.flatnonzero(precision[:-1] >= TARGET_PRECISION)
    reject = None
    if reaching.size:
        reject = _flagged_stats(y, p, float(np.ceil(thresholds[reaching[0]] * 1000) / 1000))

    order = np.argsort(p, kind="stable")
    sorted_p, sorted_y = p[order], y[order]
    k = np.arange(1, len(p) + 1)
    npv = 1.0 - np.cumsum(sorted_y) / k
    # A cut after the k lowest scores is a threshold only where the next score is higher.
    cut = np.append(sorted_p[1:] > sorted_p[:-1], True)
    reaching = np.flatnonzero(cut & (npv >= TARGET_NPV))
    approve = None
    if reaching.size:
        i = reaching[-1]
        upper = sorted_p[i + 1] if i + 1 < len(p) else 1.0
        t = float(np.floor(upper * 1000) / 1000)
        approved = p < t
        approve = {
            "threshold": t,
            "npv": _ratio(np.sum(approved & (y == 0)), np.sum(approved)),
            "approved_fraction": float(approved.mean()),
            "toxic_approved_fraction": _ratio(np.sum(approved & (y == 1)), np.sum(y == 1)),
        }
    return {
        "target_precision": TARGET_PRECISION,
        "target_npv": TARGET_NPV,
        "reject_above": reject,
        "approve_below": approve,
    }


def _flagged_stats(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """Precision and recall of flagging the comments that score >= ``threshold``."""
    flagged = p >= threshold
    return {
        "threshold": threshold,
        "precision": _ratio(np.sum(flagged & (y == 1)), np.sum(flagged)),
        "recall": _ratio(np.sum(flagged & (y == 1)), np.sum(y == 1)),
        "flagged_fraction": float(flagged.mean()),
    }


def _ratio(a: Any, b: Any) -> float | None:
    return float(a) / float(b) if b else None


def _score_timed(
    scorer: LinearToxicityScorer, texts: Sequence[str], progress: bool
) -> tuple[np.ndarray, float]:
    """Score ``texts`` in batches; returns the probabilities and the comments per second."""
    batch = 256
    out = []
    start = time.perf_counter()
    for i in tqdm(
        range(0, len(texts), batch),
        desc="scoring",
        unit="batch",
        disable=not progress,
        file=sys.stderr,
    ):
        out.append(scorer.predict_proba(texts[i : i + batch]))
    seconds = time.perf_counter() - start
    return np.concatenate(out), len(texts) / seconds


def train_toxicity(
    data: Path | None, out_dir: Path | None = None, *, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Train the linear model, write ``toxicity-linear-1.npz`` + ``.json`` into ``out_dir``.

    ``data`` is the ``clean_data.csv.gz`` file (``None``: ``default_data_path()``). Returns a
    summary with the validation AUC per ``C``, the held-out metrics of the written artifact and
    its throughput.
    """
    started = time.perf_counter()
    data = Path(data) if data is not None else default_data_path()
    texts, y, data_info = load_dataset(data, progress)
    train, test = split_indices(y, seed, TEST_SIZE)
    fit_rows, val_rows = train_test_split(
        train, test_size=VALIDATION_SIZE, stratify=y[train], random_state=seed
    )
    counts = _count_features(texts, progress)

    validation_auc = {}
    with tqdm(
        total=len(C_GRID) + 1, desc="fitting", unit="fit", disable=not progress, file=sys.stderr
    ) as bar:
        for C in C_GRID:
            bar.set_postfix(C=C)
            tfidfs, model = _fit(counts, y, fit_rows, C)
            p_val = model.predict_proba(_tfidf(counts, val_rows, tfidfs))[:, 1]
            validation_auc[str(C)] = float(roc_auc_score(y[val_rows], p_val))
            bar.update()
        best_C = max(C_GRID, key=lambda c: validation_auc[str(c)])
        bar.set_postfix(C=best_C, final=True)
        tfidfs, model = _fit(counts, y, train, best_C)
        bar.update()

    p_test = model.predict_proba(_tfidf(counts, test, tfidfs))[:, 1]
    metrics = classification_metrics(y[test], p_test)
    seconds = time.perf_counter() - started
    model_path = Path(out_dir or MODELS_DIR) / MODEL_FILE
    save_artifact(
        model_path,
        blocks=FEATURE_BLOCKS,
        idf=[tfidf.idf_ for tfidf in tfidfs],
        coef=model.coef_,
        intercept=float(model.intercept_[0]),
        metadata={
            "version": MODEL_VERSION,
            "labels": ["toxicity"],
            "model": "logistic regression on hashed TF-IDF word 1-2-grams and char_wb 2-5-grams",
            "created": datetime.now(UTC).strftime("%Y-%m-%d"),
            "training": {
                **data_info,
                "split": {
                    "seed": seed,
                    "test_size": TEST_SIZE,
                    "validation_size": VALIDATION_SIZE,
                    "stratified": True,
                    "deduplicated": True,
                },
                "train_rows": len(train),
                "test_rows": len(test),
                "validation_auc_by_C": validation_auc,
                "C": best_C,
                "scikit_learn": sklearn.__version__,
                "seconds": round(seconds, 1),
            },
            "held_out_metrics": metrics,
        },
    )

    # Check the written artifact end to end: it must reproduce the in-memory model's scores.
    scorer = LinearToxicityScorer.load(model_path)
    test_texts = [texts[i] for i in test]
    p_artifact, per_second = _score_timed(scorer, test_texts, progress)
    max_diff = float(np.max(np.abs(p_artifact - p_test)))
    if max_diff > 1e-4:
        raise RuntimeError(f"the saved artifact's scores differ from the model's by {max_diff}")
    return {
        "model_path": str(model_path),
        "metadata_path": str(metadata_path(model_path)),
        "artifact_bytes": model_path.stat().st_size + metadata_path(model_path).stat().st_size,
        "version": MODEL_VERSION,
        "training_seconds": round(seconds, 1),
        "validation_auc_by_C": validation_auc,
        "C": best_C,
        "held_out_metrics": metrics,
        "comments_per_s": round(per_second, 1),
        "test_mean_chars": round(float(np.mean([len(t) for t in test_texts])), 1),
    }


def evaluate_toxicity(
    data: Path | None, model_path: Path | None = None, progress: bool = True
) -> dict[str, Any]:
    """Score the held-out split the model was trained without and report its metrics.

    The split is recomputed from the seed and test size in the model's metadata. Also measures
    throughput (comments per second, one process, batches of 256).
    """
    data = Path(data) if data is not None else default_data_path()
    scorer = LinearToxicityScorer.load(model_path)
    training = scorer.metadata.get("training", {})
    split = training.get("split", {"seed": 0, "test_size": TEST_SIZE})
    texts, y, data_info = load_dataset(data, progress)
    _, test = split_indices(y, split["seed"], split["test_size"])
    test_texts = [texts[i] for i in test]
    p, per_second = _score_timed(scorer, test_texts, progress)
    return {
        "model_version": scorer.version,
        "data": str(data),
        "same_data_as_training": data_info["data_sha256"] == training.get("data_sha256"),
        "split": split,
        "metrics": classification_metrics(y[test], p),
        "comments_per_s": round(per_second, 1),
        "mean_chars": round(float(np.mean([len(t) for t in test_texts])), 1),
    }
