"""Scorers turn comment texts into per-label scores between 0 and 1.

Every scorer has the same small interface so the worker, the CLI and the
benchmarks treat them alike; ``load_scorer`` picks one by the name in
``STET_SCORERS``. Scores are stored per scorer *and* model version so a
comment can be re-scored when a model changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Scorer(Protocol):
    """What the worker needs from a scorer."""

    name: str  # short, stable id stored with every score ("linear", "null")
    version: str  # model version stored with every score
    labels: tuple[str, ...]  # labels it provides, detoxify's names where they exist

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Return one ``{label: score}`` dict per text, scores in [0, 1]."""
        ...


def load_scorer(name: str) -> Scorer:
    """Build the scorer called ``name``; heavy models load here, once per process."""
    if name == "linear":
        from worker.scorers.linear import LinearToxicityScorer

        return LinearToxicityScorer.load()
    if name == "null":
        from worker.scorers.null import NullScorer

        return NullScorer()
    raise ValueError(f"unknown scorer {name!r} (known: linear, null)")
