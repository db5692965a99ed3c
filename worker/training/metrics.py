"""Held-out metrics every trainer reports: AUC, average precision and flag rates at fixed
thresholds, and the thresholds a newsroom would start from."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

REPORT_THRESHOLDS = (0.1, 0.25, 0.5, 0.75, 0.9)
TARGET_PRECISION = 0.95  # for the suggested reject-above threshold
TARGET_NPV = 0.99  # for the suggested approve-below threshold


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


# --- the other data sets and the held-out splits --------------------------------------------
