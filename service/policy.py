"""The moderation policy: pure functions from scores to an outcome.

Used by the worker after scoring; the dashboard goes through ``moderation``,
which records a person's decision instead. Defaults favour queueing over a
wrong automatic decision: only clearly clean comments are approved and only
clearly toxic ones rejected, everything between waits for a moderator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.models import Status


@dataclass(frozen=True)
class Thresholds:
    """Auto-approve when toxicity < approve_below, auto-reject when ≥ reject_above."""

    approve_below: float
    reject_above: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.approve_below <= self.reject_above <= 1.0:
            raise ValueError(
                "thresholds must satisfy 0 ≤ approve_below ≤ reject_above ≤ 1, "
                f"got {self.approve_below} and {self.reject_above}"
            )


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str


def decide(scores: Mapping[str, float], thresholds: Thresholds) -> Outcome:
    """Turn a comment's scores into approved, rejected or queued, with a readable reason."""
    if "toxicity" not in scores:
        return Outcome(Status.QUEUED, "no toxicity score: a person decides")
    toxicity = scores["toxicity"]
    if toxicity >= thresholds.reject_above:
        return Outcome(
            Status.REJECTED,
            f"toxicity {toxicity:.2f} ≥ auto-reject threshold {thresholds.reject_above:.2f}",
        )
    if toxicity < thresholds.approve_below:
        return Outcome(
            Status.APPROVED,
            f"toxicity {toxicity:.2f} < auto-approve threshold {thresholds.approve_below:.2f}",
        )
    return Outcome(
        Status.QUEUED,
        f"toxicity {toxicity:.2f} between {thresholds.approve_below:.2f} and "
        f"{thresholds.reject_above:.2f}: a person decides",
    )
