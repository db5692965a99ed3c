"""What the default scorer's training measures on held-out rows: ROC AUC per source and
attribute, the languages it is validated for, and the thresholds it suggests per attribute."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from worker.training import attribute_data as ad

# Policy thresholds suggested from validation rows (README, "Models and the policy").
MAX_MISSED = 0.05  # at most this share of a dangerous attribute's positives auto-approved
REJECT_PRECISION = 0.9  # auto-reject on a dangerous attribute only this surely
# A language is validated (its comments decided on the model's scores alone) when its held-out
# toxicity ROC AUC, pooled over its sets, reaches this with at least MIN_CLASS rows of each class.
VALIDATED_AUC = 0.85
MIN_CLASS = 50


def auc_per_attribute(y: np.ndarray, scores: np.ndarray) -> dict[str, float | None]:
    """ROC AUC of each attribute over the rows whose set labels it (-1: unlabelled)."""
    out: dict[str, float | None] = {}
    for j, name in enumerate(ad.ATTRIBUTES):
        yy = y[y[:, j] >= 0, j]
        out[name] = float(roc_auc_score(yy, scores[y[:, j] >= 0, j])) if 0 < yy.sum() < len(yy) else None
    return out


def suggest_thresholds(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """From validation rows, per attribute: the highest ``queue_at`` that lets through at most
    ``MAX_MISSED`` of its positives, and the lowest ``reject_at`` whose flagged rows are at least
    ``REJECT_PRECISION`` positive (with at least 5 of them)."""
    out: dict[str, Any] = {}
    for j, name in enumerate(ad.ATTRIBUTES):
        labelled = y[:, j] >= 0
        yy, pp = y[labelled, j], p[labelled, j]
        if yy.sum() == 0:
            continue
        queue_at = float(np.floor(np.quantile(pp[yy == 1], MAX_MISSED) * 100) / 100)
        reject_at = None
        for t in np.round(np.arange(0.5, 1.0, 0.01), 2):
            flagged = pp >= t
            if flagged.sum() >= 5 and yy[flagged].mean() >= REJECT_PRECISION:
                reject_at = float(t)
                break
        out[name] = {
            "queue_at": queue_at,
            "negatives_at_or_above": float((pp[yy == 0] >= queue_at).mean()),
            "reject_at": reject_at,
            "positives": int(yy.sum()),
            "rows": int(len(yy)),
        }
    return out


def evaluate(
    rows_of: list[ad.Row], y: np.ndarray, scores: np.ndarray, linear: np.ndarray | None, rows: np.ndarray
) -> list[dict[str, Any]]:
    """ROC AUC per source and attribute on ``rows``, with the linear model's on the same rows where it
    has the label (``linear``: its probabilities for toxicity, obscene, insult, identity_attack)."""
    theirs = {"toxicity": 0, "obscene": 1, "insult": 2, "identity_attack": 3}
    table = []
    sources = np.array([r.source for r in rows_of])
    for source in sorted(set(sources[rows])):
        mine = rows[sources[rows] == source]
        for j, name in enumerate(ad.ATTRIBUTES):
            labelled = mine[y[mine, j] >= 0]
            yy = y[labelled, j]
            if len(yy) == 0:
                continue
            entry: dict[str, Any] = {
                "source": source,
                "attribute": name,
                "rows": int(len(yy)),
                "positives": int(yy.sum()),
            }
            if 0 < yy.sum() < len(yy):
                entry["roc_auc"] = float(roc_auc_score(yy, scores[labelled, j]))
                if linear is not None and name in theirs:
                    entry["linear_roc_auc"] = float(roc_auc_score(yy, linear[labelled, theirs[name]]))
            else:  # a set with positives only (MLMA): how many the model flags at 0.5
                entry["flagged_at_0.5"] = float((scores[labelled, j] >= 0.5).mean())
            table.append(entry)
    return table


def language_validation(
    rows_of: list[ad.Row], y: np.ndarray, scores: np.ndarray, rows: np.ndarray
) -> dict[str, Any]:
    """Per language of ``rows``: toxicity ROC AUC pooled over its sets, and which languages pass."""
    languages = np.array([r.language for r in rows_of])
    measured: dict[str, Any] = {}
    for language in sorted(set(languages[rows])):
        mine = rows[(languages[rows] == language) & (y[rows, 0] >= 0)]
        yy = y[mine, 0]
        positives = int(yy.sum())
        entry: dict[str, Any] = {
            "sources": sorted({rows_of[i].source for i in mine}),
            "rows": int(len(yy)),
            "positives": positives,
        }
        if min(positives, len(yy) - positives) >= MIN_CLASS:
            entry["toxicity_roc_auc"] = float(roc_auc_score(yy, scores[mine, 0]))
        measured[language] = entry
    validated = [k for k, e in measured.items() if e.get("toxicity_roc_auc", 0.0) >= VALIDATED_AUC]
    return {"validated": validated, "roc_auc_at_least": VALIDATED_AUC, "measured": measured}
