"""Training of the linear toxicity model (``worker/scorers/linear.py``) on the sets and splits of
``worker/training/data.py``.

A head ships only with ``MIN_HEAD_POSITIVES`` positive training comments: ``severe_toxicity`` (35
in the whole subset, 17 in its training half) and ``threat`` (12 and 4) fall short and
``sexual_explicit`` has no data, so the model does not claim them (their held-out AUCs are still
recorded in the metadata, and are mostly the toxicity factor's). The toxicity fit re-weights
non-toxic comments that mention identity groups (``identity_weights``) and then masks the identity
terms' own features (``mask_identity_terms``). Regularisation strengths
are chosen on validation data carved from the training part, never on the test part; the span
rule is tuned on Toxic Spans' training posts and measured on its trial posts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from tqdm import tqdm

from worker import spans
from worker.identity import IDENTITY_TERMS, terms_in
from worker.scorers import packing
from worker.scorers.linear import (
    FEATURE_BLOCKS,
    MODELS_DIR,
    LinearToxicityScorer,
    metadata_path,
    save_artifact,
)
from worker.training.data import (
    SPANS_TRAIN,
    SPANS_TRIAL,
    SUBSET_LABELS,
    VALIDATION_SIZE,
    Splits,
    data_root,
    load_splits,
)
from worker.training.metrics import classification_metrics
from worker.training.vectorizer import make_vectorizer

MODEL_VERSION = "tfidf-lr-2"
MODEL_FILE = "toxicity-linear-2.npz"

C_GRID = (1.0, 2.0, 4.0)
HEAD_C_GRID = (0.5, 2.0, 8.0, 32.0)
MIN_HEAD_POSITIVES = 25
# The Jigsaw challenge's names and detoxify's (Stet's) names for the same labels.
IDENTITY_MIN_ROWS = 50  # identity terms rarer than this in training are left alone
IDENTITY_MAX_WEIGHT = 10.0
CHUNK_ROWS = 4096


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
    counts: list[sp.csr_matrix], y: np.ndarray, rows: np.ndarray, C: float, weights: np.ndarray
) -> tuple[list[TfidfTransformer], LogisticRegression]:
    """Fit per-block TF-IDF and the (weighted) logistic regression on ``rows``."""
    tfidfs = [TfidfTransformer(sublinear_tf=True).fit(block[rows]) for block in counts]
    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(_tfidf(counts, rows, tfidfs), y[rows], sample_weight=weights[rows])
    return tfidfs, model


def _tfidf(counts: list[sp.csr_matrix], rows: np.ndarray, tfidfs: list[TfidfTransformer]) -> sp.csr_matrix:
    return sp.hstack(
        [tfidf.transform(block[rows]) for tfidf, block in zip(tfidfs, counts, strict=True)], format="csr"
    )


def identity_weights(texts: Sequence[str], y: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Sample weights that make identity mentions stop predicting toxicity.

    For each identity term mentioned by at least ``IDENTITY_MIN_ROWS`` comments, the non-toxic
    comments that mention it are weighted so that its weighted toxic:non-toxic odds equal the
    whole data's (capped at ``IDENTITY_MAX_WEIGHT``; a comment naming several terms takes the
    largest weight). This is the instance re-weighting of Zhang et al. (2020, "Demographics
    should not be the reason of toxicity"), in place of Dixon et al.'s added non-toxic comments.
    Returns the weights and each re-weighted term's factor.
    """
    weights = np.ones(len(y))
    base_odds = y.mean() / (1.0 - y.mean())
    rows_by_term: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for term in terms_in(text):
            rows_by_term.setdefault(term, []).append(i)
    factors = {}
    for term, term_rows in sorted(rows_by_term.items()):
        rows = np.array(term_rows)
        positives = int(y[rows].sum())
        negatives = len(rows) - positives
        if len(rows) < IDENTITY_MIN_ROWS or negatives == 0:
            continue
        factor = min((positives / negatives) / base_odds, IDENTITY_MAX_WEIGHT)
        if factor > 1.0:
            clean = rows[y[rows] == 0]
            weights[clean] = np.maximum(weights[clean], factor)
            factors[term] = round(float(factor), 2)
    return weights, factors


def mask_identity_terms(coef: np.ndarray) -> int:
    """Feature masking: no identity term may push the toxicity score up on its own.

    Sets to zero the positive toxicity weights of each identity term's word unigram and of the
    character n-grams that start it (``" gay"``, ``" gay "``...), in place; ``coef`` is laid out as
    the feature blocks end to end. Re-weighting alone leaves "gay" among the strongest words,
    because the training comments use it as an insult far more often than as a self-description.
    The identity_attack head keeps its weights: naming a group is part of attacking it. Returns
    how many weights were zeroed.
    """
    zeroed, offset = 0, 0
    for block in FEATURE_BLOCKS:
        hashing = block["hashing"]
        low, high = hashing["ngram_range"]
        if hashing["analyzer"] == "word":
            grams = set(IDENTITY_TERMS)
        else:
            # from 3 characters: " g" would be every word starting with g
            grams = {f" {term} "[:n] for term in IDENTITY_TERMS for n in range(max(low, 3), high + 1)}
        hasher = FeatureHasher(hashing["n_features"], input_type="string", alternate_sign=False)
        index = offset + np.unique(hasher.transform([[gram] for gram in grams]).indices)
        zeroed += int(np.sum(coef[index] > 0))
        coef[index] = np.minimum(coef[index], 0.0)
        offset += hashing["n_features"]
    return zeroed


# --- training --------------------------------------------------------------------------------


def _fit_head(x: sp.csr_matrix, y: np.ndarray, seed: int) -> tuple[LogisticRegression, dict[str, float]]:
    """A head's logistic regression, ``C`` chosen by 3-fold cross-validated AUC on its training rows."""
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    auc = {}
    for C in HEAD_C_GRID:
        model = LogisticRegression(C=C, max_iter=2000)
        auc[str(C)] = float(np.mean(cross_val_score(model, x, y, cv=folds, scoring="roc_auc")))
    best = max(HEAD_C_GRID, key=lambda c: auc[str(c)])
    return LogisticRegression(C=best, max_iter=2000).fit(x, y), auc


def _label_auc(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
    }


def train_heads(
    splits: Splits, tfidfs: list[TfidfTransformer], toxicity: LogisticRegression, *, seed: int, progress: bool
) -> tuple[dict[str, tuple[np.ndarray, float]], dict[str, Any]]:
    """Fit one head per subset label on the toxicity model's features; returns the shipped heads
    and, for every label, its training size, chosen ``C`` and held-out AUCs (shipped or not)."""
    subset, davidson = splits.subset, splits.davidson
    x_subset = _tfidf(_count_features(subset.texts, progress), np.arange(len(subset.texts)), tfidfs)
    x_tweets = _tfidf(_count_features(davidson.texts, progress), np.arange(len(davidson.texts)), tfidfs)
    p_subset = toxicity.predict_proba(x_subset)[:, 1]
    p_tweets = toxicity.predict_proba(x_tweets)[:, 1]
    heads: dict[str, tuple[np.ndarray, float]] = {}
    report: dict[str, Any] = {}
    for label in list(SUBSET_LABELS.values())[1:]:
        x, y = x_subset[subset.train], subset.labels[label][subset.train]
        if label == "identity_attack":
            x = sp.vstack([x, x_tweets[davidson.train]], format="csr")
            y = np.concatenate([y, davidson.labels[label][davidson.train]])
        entry: dict[str, Any] = {"train_rows": len(y), "train_positives": int(y.sum())}
        if y.sum() < 3:
            report[label] = {**entry, "shipped": False}
            continue
        model, cv_auc = _fit_head(x, y, seed)
        q_subset = model.predict_proba(x_subset[subset.test])[:, 1]
        entry |= {
            "C": model.C,
            "cv_auc_by_C": cv_auc,
            "shipped": bool(y.sum() >= MIN_HEAD_POSITIVES),
            "held_out": {
                "jigsaw_subset": _label_auc(
                    subset.labels[label][subset.test], p_subset[subset.test] * q_subset
                )
            },
        }
        if label == "identity_attack":
            q_tweets = model.predict_proba(x_tweets[davidson.test])[:, 1]
            hate = davidson.labels[label][davidson.test]
            offensive = davidson.labels["offensive"][davidson.test] == 1
            product = p_tweets[davidson.test] * q_tweets
            entry["held_out"]["davidson"] = _label_auc(hate, product)
            entry["held_out"]["davidson_hate_vs_offensive"] = _label_auc(hate[offensive], product[offensive])
        if entry["shipped"]:
            heads[label] = (model.coef_.ravel(), float(model.intercept_[0]))
        report[label] = entry
    return heads, report


def tune_spans(scorer: LinearToxicityScorer, root: Path) -> dict[str, Any]:
    """Tune the span rule on Toxic Spans' training posts; measure it on the trial posts."""
    texts, gold = spans.load_toxic_spans(root / SPANS_TRAIN)
    best = spans.tune(scorer, texts, gold)
    trial_texts, trial_gold = spans.load_toxic_spans(root / SPANS_TRIAL)
    rule = spans.SpanRule(**best["rule"])
    trial_f1 = spans.span_f1(spans.explain(scorer, trial_texts, rule), trial_gold)
    return {"rule": best["rule"], "tuned_on": SPANS_TRAIN, "train_f1": best["f1"], "trial_f1": trial_f1}


def _score_timed(
    scorer: LinearToxicityScorer, texts: Sequence[str], progress: bool
) -> tuple[np.ndarray, float]:
    """Toxicity of ``texts`` in batches of 256; returns the probabilities and the comments per second."""
    batch = 256
    out = []
    start = time.perf_counter()
    for i in tqdm(
        range(0, len(texts), batch), desc="scoring", unit="batch", disable=not progress, file=sys.stderr
    ):
        out.append(scorer.predict_proba(texts[i : i + batch]))
    seconds = time.perf_counter() - start
    return np.concatenate(out), len(texts) / seconds


def train_toxicity(
    data: Path | None, out_dir: Path | None = None, *, seed: int = 0, progress: bool = True
) -> dict[str, Any]:
    """Train the linear model with its heads and span rule; write ``MODEL_FILE`` + ``.json`` into ``out_dir``.

    ``data`` is the shared data folder (``None``: ``data_root()``). Returns a summary with the
    validation AUC per ``C``, the held-out metrics of the written artifact and its throughput.
    """
    started = time.perf_counter()
    root = Path(data) if data is not None else data_root()
    splits = load_splits(root, seed=seed, progress=progress)
    texts, y = splits.binary.texts, splits.binary.labels["toxicity"]
    train, test = splits.binary.train, splits.binary.test
    fit_rows, val_rows = train_test_split(
        train, test_size=VALIDATION_SIZE, stratify=y[train], random_state=seed
    )
    weights = np.ones(len(y))
    weights[train], factors = identity_weights([texts[i] for i in train], y[train])
    counts = _count_features(texts, progress)

    validation_auc = {}
    with tqdm(
        total=len(C_GRID) + 1, desc="fitting", unit="fit", disable=not progress, file=sys.stderr
    ) as bar:
        for C in C_GRID:
            bar.set_postfix(C=C)
            tfidfs, model = _fit(counts, y, fit_rows, C, weights)
            p_val = model.predict_proba(_tfidf(counts, val_rows, tfidfs))[:, 1]
            validation_auc[str(C)] = float(roc_auc_score(y[val_rows], p_val))
            bar.update()
        best_C = max(C_GRID, key=lambda c: validation_auc[str(c)])
        bar.set_postfix(C=best_C, final=True)
        tfidfs, model = _fit(counts, y, train, best_C, weights)
        bar.update()
    del counts
    masked = mask_identity_terms(model.coef_[0])
    heads, head_report = train_heads(splits, tfidfs, model, seed=seed, progress=progress)

    p_test = model.predict_proba(
        _tfidf(_count_features([texts[i] for i in test], False), np.arange(len(test)), tfidfs)
    )[:, 1]
    metrics = classification_metrics(y[test], p_test)
    model_path = Path(out_dir or MODELS_DIR) / MODEL_FILE
    metadata = {
        "version": MODEL_VERSION,
        "labels": ["toxicity", *heads],
        "model": "logistic regression on hashed TF-IDF word 1-2-grams and char_wb 2-5-grams; "
        "label heads score P(toxicity) * q_label",
        "created": datetime.now(UTC).strftime("%Y-%m-%d"),
        "training": {
            **splits.info,
            "train_rows": len(train),
            "test_rows": len(test),
            "validation_auc_by_C": validation_auc,
            "C": best_C,
            "identity_reweighting": factors,
            "identity_features_masked": masked,
            "heads": head_report,
            "scikit_learn": sklearn.__version__,
        },
        "held_out_metrics": metrics,
    }
    save_artifact(
        model_path,
        blocks=FEATURE_BLOCKS,
        idf=[tfidf.idf_ for tfidf in tfidfs],
        coef=model.coef_,
        intercept=float(model.intercept_[0]),
        metadata=metadata,
        heads=heads,
    )
    scorer = LinearToxicityScorer.load(model_path)
    metadata["spans"] = tune_spans(scorer, root)
    metadata["training"]["seconds"] = round(time.perf_counter() - started, 1)
    metadata_path(model_path).write_text(
        json.dumps({**scorer.metadata, **metadata}, indent=2) + "\n", encoding="utf-8"
    )

    # Check the written artifact end to end: it must reproduce the in-memory model's scores (to
    # within what rounding its weights for storage may move them).
    scorer = LinearToxicityScorer.load(model_path)
    test_texts = [texts[i] for i in test]
    p_artifact, per_second = _score_timed(scorer, test_texts, progress)
    max_diff = float(np.max(np.abs(p_artifact - p_test)))
    if max_diff > packing.TOLERANCE:
        raise RuntimeError(f"the saved artifact's scores differ from the model's by {max_diff}")
    return {
        "model_path": str(model_path),
        "artifact_bytes": model_path.stat().st_size + metadata_path(model_path).stat().st_size,
        "version": MODEL_VERSION,
        "labels": scorer.labels,
        "training_seconds": metadata["training"]["seconds"],
        "validation_auc_by_C": validation_auc,
        "C": best_C,
        "identity_reweighting": factors,
        "heads": head_report,
        "spans": metadata["spans"],
        "held_out_metrics": metrics,
        "comments_per_s": round(per_second, 1),
    }
