"""The moderation policy: pure functions from scores and reasons to an outcome.

Used by the worker after scoring; the dashboard goes through ``moderation``, which records a
person's decision instead. Defaults favour queueing over a wrong automatic decision: only clearly
clean comments are approved and only clear abuse or spam rejected; everything between waits for a
moderator. The most severe rule that applies wins: a banned word, then spam, then toxicity.
Spam is rejected only with a reason beyond links (repetition, contact baits, obfuscation...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from service.models import Status

BANNED_WORD = "banned_word"
SUSPECT_WORD = "suspect_word"
TOXIC_SPAN = "toxic_span"  # the words behind a toxicity score, not a spam signal
NOT_SPAM_SIGNALS = frozenset({BANNED_WORD, SUSPECT_WORD, TOXIC_SPAN})
# Readers link to sources; links alone make a comment look like spam to the content model, so
# they may queue it for a person but never reject it on their own.
LINK_REASONS = frozenset(
    {"links", "many_links", "shortener", "link_only", "unlisted_domain", "new_author_links"}
)


@dataclass(frozen=True)
class Reason:
    """A named signal behind a score: its log-odds ``weight``, a ``detail`` a moderator reads,
    and the ``spans`` (start, end) of the comment body it points at."""

    code: str
    weight: float
    detail: str
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Thresholds:
    """Toxicity: approve below ``approve_below``, reject at ``reject_above``.
    Spam: queue at ``spam_queue_above``, reject at ``spam_reject_above``; a spam score with no
    signal behind it queues only from ``spam_alone_queue_above`` (or ``spam_queue_above`` if higher)."""

    approve_below: float
    reject_above: float
    spam_queue_above: float = 0.5
    spam_reject_above: float = 0.95
    spam_alone_queue_above: float = 0.9

    def __post_init__(self) -> None:
        for low, high, what in (
            (self.approve_below, self.reject_above, "toxicity"),
            (self.spam_queue_above, self.spam_reject_above, "spam"),
        ):
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(
                    f"{what} thresholds must satisfy 0 ≤ lower ≤ upper ≤ 1, got {low} and {high}"
                )


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str
    category: str  # banned_word, spam, toxic, premoderation, suspect_word, trusted, clean, uncertain


def _why(reasons: Sequence[Reason]) -> str:
    strongest = sorted(reasons, key=lambda r: -r.weight)[:3]
    return f" ({'; '.join(r.detail for r in strongest)})" if strongest else ""


def decide(
    scores: Mapping[str, float],
    thresholds: Thresholds,
    reasons: Sequence[Reason] = (),
    hold: str | None = None,
    trusted: bool = False,
) -> Outcome:
    """Turn a comment's scores and reasons into approved, rejected or queued, with a readable reason.

    ``hold`` says why a person must see the comment whatever its scores (pre-moderation of the
    article or the author); it never overrides a rejection. A ``trusted`` author's comments that
    are not rejected and carry no suspect word are approved instead of waiting in the queue.
    """
    by_code: dict[str, list[Reason]] = {}
    for r in reasons:
        by_code.setdefault(r.code, []).append(r)
    signals = [r for r in reasons if r.code not in NOT_SPAM_SIGNALS and r.weight > 0]
    t = thresholds
    if BANNED_WORD in by_code:
        return Outcome(Status.REJECTED, "; ".join(r.detail for r in by_code[BANNED_WORD]), BANNED_WORD)
    spam = scores.get("spam")
    beyond_links = any(r.code not in LINK_REASONS for r in signals)
    if spam is not None and spam >= t.spam_reject_above and beyond_links:
        why = _why(signals)
        return Outcome(Status.REJECTED, f"spam {spam:.2f} ≥ {t.spam_reject_above:.2f}{why}", "spam")
    toxicity = scores.get("toxicity")
    if toxicity is not None and toxicity >= t.reject_above:
        return Outcome(
            Status.REJECTED, f"toxicity {toxicity:.2f} ≥ auto-reject threshold {t.reject_above:.2f}", "toxic"
        )
    if hold:
        return Outcome(Status.QUEUED, hold, "premoderation")
    if SUSPECT_WORD in by_code:
        return Outcome(Status.QUEUED, "; ".join(r.detail for r in by_code[SUSPECT_WORD]), SUSPECT_WORD)
    if trusted:
        return Outcome(Status.APPROVED, "trusted author, not rejected by any rule", "trusted")
    queue_bar = t.spam_queue_above if signals else max(t.spam_queue_above, t.spam_alone_queue_above)
    if spam is not None and spam >= queue_bar:
        return Outcome(Status.QUEUED, f"possible spam {spam:.2f}{_why(signals)}: a person decides", "spam")
    if toxicity is None:
        return Outcome(Status.QUEUED, "no toxicity score: a person decides", "uncertain")
    if toxicity < t.approve_below:
        return Outcome(
            Status.APPROVED,
            f"toxicity {toxicity:.2f} < auto-approve threshold {t.approve_below:.2f}",
            "clean",
        )
    return Outcome(
        Status.QUEUED,
        f"toxicity {toxicity:.2f} between {t.approve_below:.2f} and {t.reject_above:.2f}: a person decides",
        "uncertain",
    )
