"""The cascade: the compact linear model scores every comment; only its uncertain band goes to a transformer.

The band ``[low, high)`` is a range of the linear model's toxicity score. ``choose_band`` picks the
narrowest band for which, on labelled validation comments, the cascade's decisions (approve below
``approve_below``, reject at ``reject_above``, queue between) equal the transformer's own decisions
on at least ``target`` of the comments. The band therefore holds only for the thresholds it was
chosen with: a site with other thresholds should choose its own (``STET_CASCADE_BAND``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from worker.scorers import ENGLISH

TARGET_AGREEMENT = 0.995  # on validation, so that held-out agreement stays above 99%


def decisions(p: np.ndarray, approve_below: float, reject_above: float) -> np.ndarray:
    """0 approve, 1 queue, 2 reject: the toxicity part of ``service.policy.decide``."""
    return np.where(p >= reject_above, 2, np.where(p < approve_below, 0, 1))


def choose_band(
    linear: np.ndarray,
    transformer: np.ndarray,
    approve_below: float,
    reject_above: float,
    target: float = TARGET_AGREEMENT,
) -> dict[str, Any]:
    """The narrowest linear-score band whose cascade agrees with the transformer on >= ``target``.

    ``linear`` and ``transformer`` are the two models' toxicity scores of the same validation
    comments. Returns ``low``, ``high``, the share of comments sent to the transformer and the
    agreement, all measured on those comments.
    """
    order = np.argsort(linear, kind="stable")
    s = np.asarray(linear, dtype=np.float64)[order]
    differ = decisions(s, approve_below, reject_above) != decisions(
        np.asarray(transformer)[order], approve_below, reject_above
    )
    n = len(s)
    before = np.concatenate([[0], np.cumsum(differ)])  # disagreements among the k lowest scores
    budget = int(np.floor((1.0 - target) * n))
    # Band = sorted rows [a, b): disagreements left = before[a] + (before[n] - before[b]) <= budget.
    a = np.arange(n + 1)
    b = np.searchsorted(before, before[n] - budget + before[a], side="left")
    b = np.where(b > n, 2 * n + 1, np.maximum(b, a))  # b > n: too many disagreements below a already
    best = int(np.argmin(b - a))
    lo_i, hi_i = best, int(b[best])
    low = 0.0 if lo_i == 0 else float((s[lo_i - 1] + s[lo_i]) / 2) if lo_i < n else 1.0
    high = 1.0 + 1e-9 if hi_i >= n else float((s[hi_i - 1] + s[hi_i]) / 2) if hi_i > 0 else 0.0
    routed = (linear >= low) & (linear < high)
    agree = np.where(
        routed,
        True,
        decisions(np.asarray(linear), approve_below, reject_above)
        == decisions(np.asarray(transformer), approve_below, reject_above),
    )
    return {
        "low": low,
        "high": high,
        "thresholds": {"approve_below": approve_below, "reject_above": reject_above},
        "target_agreement": target,
        "routed_share": float(routed.mean()),
        "agreement": float(agree.mean()),
    }


class CascadeScorer:
    """Linear scores for every comment; the transformer's for comments in the band (the linear labels)."""

    name = "cascade"
    languages = reads = ENGLISH  # trained and measured on English comments

    def __init__(self, linear: Any, transformer: Any, low: float, high: float) -> None:
        self.linear, self.transformer = linear, transformer
        self.low, self.high = low, high
        self.labels: tuple[str, ...] = tuple(linear.labels)
        self.version = f"{linear.version}+{transformer.version}@{low:g}-{high:g}"

    @classmethod
    def from_settings(cls, settings: Any, transformer: Any) -> CascadeScorer:
        """The shipped linear model and ``transformer``; the band from ``STET_CASCADE_BAND`` or else
        from the transformer's model card (``<checkpoint>.json``), chosen for this linear version and
        these thresholds."""
        from worker.scorers.linear import LinearToxicityScorer

        linear = LinearToxicityScorer.load()
        if settings.cascade_band:
            low, high = (float(x) for x in settings.cascade_band.split(","))
            return cls(linear, transformer, low, high)
        card_path = Path(settings.detoxify_checkpoint).with_suffix(".json")
        band = json.loads(card_path.read_text()).get("cascade", {}) if card_path.is_file() else {}
        wanted = {"approve_below": settings.approve_below, "reject_above": settings.reject_above}
        if band.get("linear_version") != linear.version or band.get("thresholds") != wanted:
            raise ValueError(
                f"no cascade band for linear model {linear.version} and thresholds {wanted} in {card_path}: "
                "rerun `stet model train --task transformer` or set STET_CASCADE_BAND=low,high"
            )
        return cls(linear, transformer, band["low"], band["high"])

    def routed(self, linear_scores: Sequence[dict[str, float]]) -> list[int]:
        """Indices of the comments whose linear toxicity score is in the band."""
        return [i for i, s in enumerate(linear_scores) if self.low <= s["toxicity"] < self.high]

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        scores = self.linear.score_batch(texts)
        rows = self.routed(scores)
        if rows:
            for i, better in zip(rows, self.transformer.score_batch([texts[i] for i in rows]), strict=True):
                scores[i] = {label: better.get(label, value) for label, value in scores[i].items()}
        return scores

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        return self.linear.explain(texts)
