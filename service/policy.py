"""The moderation policy: pure functions from scores and reasons to an outcome.

Used by the worker after scoring; the dashboard goes through ``moderation``, which records a
person's decision instead. Defaults favour queueing over a wrong automatic decision, and tell rude
from dangerous:

* **Dangerous** attributes (severe toxicity, threats, identity attacks, sexual harassment) each
  have a ``queue_at`` score from which a comment is never auto-approved, and a ``reject_at`` score
  from which it is rejected.
* **Rude** ones (toxicity, insult, profanity) never reject on their own: harsh criticism of a
  minister reads as toxic to every model, and silencing it is the worst mistake a newsroom tool can
  make. A comment at or above the toxicity ``reject_above`` is rejected only when a dangerous
  attribute is more likely than not too (``CONFIRMED``, or its ``queue_at`` where higher); otherwise
  a person decides (or, where the site says ``rude="approve"``, it is published).

The most severe rule that applies wins: a banned word, then spam, then a dangerous attribute, then
toxicity. Spam is rejected only with a reason beyond links (repetition, contact baits...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from service.models import Status
from service.reasons import LINK_REASONS, NOT_SPAM_SIGNALS, ReasonCode


@dataclass(frozen=True)
class Reason:
    """A named signal behind a score: its log-odds ``weight``, a ``detail`` a moderator reads,
    and the ``spans`` (start, end) of the comment body it points at."""

    code: str
    weight: float
    detail: str
    spans: list[tuple[int, int]] = field(default_factory=list)


# Perspective's seven attributes under detoxify's names (PROFANITY is "obscene"), in Stet's order.
ATTRIBUTES = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "threat",
    "insult",
    "identity_attack",
    "sexual_explicit",
)
# Perspective's attributes a newsroom never publishes, and their names in reasons and the dashboard.
DANGEROUS = {
    "threat": "threat",
    "identity_attack": "identity attack",
    "severe_toxicity": "severe toxicity",
    "sexual_explicit": "sexual harassment",
}
RUDE_MODES = ("queue", "approve")
# Comments in a language no installed model is validated for: all queued, or approved when the
# model finds nothing (rejected only by a word list or spam evidence, never on model scores).
UNVALIDATED_LANGUAGE_MODES = ("queue", "approve")


@dataclass(frozen=True)
class AttributeRule:
    """A dangerous attribute's thresholds: never auto-approved from ``queue_at``, rejected from
    ``reject_at`` (``None``: a person always decides)."""

    queue_at: float
    reject_at: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.queue_at <= (1.0 if self.reject_at is None else self.reject_at) <= 1.0:
            raise ValueError(
                f"attribute thresholds must satisfy 0 ≤ queue_at ≤ reject_at ≤ 1, got {self.queue_at} "
                f"and {self.reject_at}"
            )


# Chosen on validation rows (never the reported test rows) of every labelled set, for the default
# scorer (``python -m worker.training.policy_thresholds``); README, "Models and the policy", gives the
# trade-off. A site or article may override each.
DEFAULT_RULES: Mapping[str, AttributeRule] = MappingProxyType(
    {
        "threat": AttributeRule(0.03, 0.9),
        "identity_attack": AttributeRule(0.05, 0.8),
        "severe_toxicity": AttributeRule(0.1, 0.9),
        "sexual_explicit": AttributeRule(0.2, 0.9),
    }
)


# How sure a dangerous attribute must be for a very toxic comment to be rejected on the two together.
# Not its ``queue_at``: those are set low so that nothing possibly dangerous is published (0.03 for
# threats), and "very toxic and possibly dangerous" rejected criticism on its toxicity alone (the
# linear model gives "The minister is a hypocrite and a liar" toxicity 0.999, identity attack 0.054).
# On the validation rows the thresholds were chosen on, this rejects 1.5% of toxic comments labelled
# neither threat, hate nor harassment instead of 8.1%; the dangerous ones it no longer rejects are
# queued (``python -m worker.training.policy_thresholds``; README, "Models and the policy").
CONFIRMED = 0.5


def merge_rules(
    base: Mapping[str, AttributeRule], *overrides: Mapping[str, Mapping[str, float | None]] | None
) -> Mapping[str, AttributeRule]:
    """``base`` with each override's ``{"threat": {"queue_at": ..., "reject_at": ...}}`` laid over it
    in turn (installation, site, article); a field left out keeps the value beneath."""
    rules = dict(base)
    for override in overrides:
        for label, fields in (override or {}).items():
            if label not in DANGEROUS:
                raise ValueError(f"no thresholds for {label!r}: only for {', '.join(DANGEROUS)}")
            below = rules.get(label, AttributeRule(1.0))
            queue_at = fields.get("queue_at", below.queue_at)
            reject_at = fields["reject_at"] if "reject_at" in fields else below.reject_at
            rules[label] = AttributeRule(float(queue_at if queue_at is not None else 1.0), reject_at)
    return MappingProxyType(rules)


@dataclass(frozen=True)
class Thresholds:
    """Toxicity: approve below ``approve_below``; from ``reject_above`` reject only with a dangerous
    attribute at its ``queue_at`` (module docstring). ``attributes``: the dangerous attributes' rules.
    ``rude``: ``"queue"`` comments that are only rude for a person, or ``"approve"`` them.
    ``unvalidated_language``: ``"queue"`` every comment in a language the model is not validated
    for, or ``"approve"`` those it finds nothing in.
    Spam: queue at ``spam_queue_above``, reject at ``spam_reject_above``; a spam score with no
    signal behind it queues only from ``spam_alone_queue_above`` (or ``spam_queue_above`` if higher)."""

    approve_below: float
    reject_above: float
    spam_queue_above: float = 0.5
    spam_reject_above: float = 0.95
    spam_alone_queue_above: float = 0.9
    attributes: Mapping[str, AttributeRule] = field(default_factory=lambda: DEFAULT_RULES)
    rude: str = "queue"
    unvalidated_language: str = "queue"

    def __post_init__(self) -> None:
        for low, high, what in (
            (self.approve_below, self.reject_above, "toxicity"),
            (self.spam_queue_above, self.spam_reject_above, "spam"),
        ):
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(
                    f"{what} thresholds must satisfy 0 ≤ lower ≤ upper ≤ 1, got {low} and {high}"
                )
        if self.rude not in RUDE_MODES:
            raise ValueError(f"rude must be one of {', '.join(RUDE_MODES)}, got {self.rude!r}")
        if self.unvalidated_language not in UNVALIDATED_LANGUAGE_MODES:
            raise ValueError(
                f"unvalidated_language must be one of {', '.join(UNVALIDATED_LANGUAGE_MODES)}, "
                f"got {self.unvalidated_language!r}"
            )
        unknown = set(self.attributes) - set(DANGEROUS)
        if unknown:
            raise ValueError(
                f"no thresholds for {', '.join(sorted(unknown))}: only for {', '.join(DANGEROUS)}"
            )


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str
    # banned_word, spam, a dangerous attribute (threat...), toxic, premoderation, suspect_word, language,
    # trusted, clean, rude, uncertain
    category: str


def _why(reasons: Sequence[Reason]) -> str:
    strongest = sorted(reasons, key=lambda r: -r.weight)[:3]
    return f" ({'; '.join(r.detail for r in strongest)})" if strongest else ""


def _dangers(
    scores: Mapping[str, float], rules: Mapping[str, AttributeRule]
) -> list[tuple[str, float, AttributeRule]]:
    """The dangerous attributes at or above their ``queue_at``, highest share of its threshold first."""
    found = [
        (label, scores[label], rule)
        for label, rule in rules.items()
        if label in scores and scores[label] >= rule.queue_at
    ]
    return sorted(found, key=lambda f: -f[1] / max(f[2].reject_at or 1.0, 1e-9))


def decide(
    scores: Mapping[str, float],
    thresholds: Thresholds,
    reasons: Sequence[Reason] = (),
    review_reason: str | None = None,
    trusted: bool = False,
    unvalidated_language: str | None = None,
) -> Outcome:
    """Turn a comment's scores and reasons into approved, rejected or queued, with a readable reason.

    ``review_reason`` says why a person must see the comment whatever its scores (pre-moderation of the
    article or the author); it never overrides a rejection. A ``trusted`` author's comments that
    are not rejected and carry no suspect word or dangerous attribute are approved instead of
    waiting in the queue. ``unvalidated_language`` names the comment's language when the model that
    scored it is not validated for it: its scores then never reject, and approve only where the
    site says so (``Thresholds.unvalidated_language``); word lists and spam evidence still apply.
    """
    outcome = _decide(scores, thresholds, reasons, review_reason, trusted)
    if unvalidated_language is None or outcome.category in (ReasonCode.BANNED_WORD, "spam", "premoderation"):
        return outcome
    unscored = f"language {unvalidated_language!r} is not scored automatically"
    if outcome.status == Status.APPROVED and thresholds.unvalidated_language == "approve":
        return Outcome(Status.APPROVED, f"{outcome.reason} ({unscored}; the site approves)", outcome.category)
    if outcome.status == Status.REJECTED:  # on the model's scores: a person confirms
        return Outcome(Status.QUEUED, f"{outcome.reason}, but {unscored}: a person decides", outcome.category)
    if outcome.status == Status.QUEUED and outcome.category != "uncertain":
        return Outcome(Status.QUEUED, f"{outcome.reason} ({unscored})", outcome.category)
    return Outcome(Status.QUEUED, f"{unscored}: a person decides ({outcome.reason})", "language")


def _decide(
    scores: Mapping[str, float],
    thresholds: Thresholds,
    reasons: Sequence[Reason],
    review_reason: str | None,
    trusted: bool,
) -> Outcome:
    by_code: dict[str, list[Reason]] = {}
    for r in reasons:
        by_code.setdefault(r.code, []).append(r)
    signals = [r for r in reasons if r.code not in NOT_SPAM_SIGNALS and r.weight > 0]
    t = thresholds
    if ReasonCode.BANNED_WORD in by_code:
        return Outcome(
            Status.REJECTED,
            "; ".join(r.detail for r in by_code[ReasonCode.BANNED_WORD]),
            ReasonCode.BANNED_WORD,
        )
    spam = scores.get("spam")
    beyond_links = any(r.code not in LINK_REASONS for r in signals)
    if spam is not None and spam >= t.spam_reject_above and beyond_links:
        why = _why(signals)
        return Outcome(Status.REJECTED, f"spam {spam:.2f} ≥ {t.spam_reject_above:.2f}{why}", "spam")
    dangers = _dangers(scores, t.attributes)
    for label, value, rule in dangers:
        if rule.reject_at is not None and value >= rule.reject_at:
            return Outcome(
                Status.REJECTED,
                f"{DANGEROUS[label]} {value:.2f} ≥ reject at {rule.reject_at:.2f}",
                label,
            )
    toxicity = scores.get("toxicity")
    confirmed = [(label, value, rule) for label, value, rule in dangers if value >= CONFIRMED]
    if toxicity is not None and toxicity >= t.reject_above and confirmed:
        label, value, rule = confirmed[0]
        return Outcome(
            Status.REJECTED,
            f"toxicity {toxicity:.2f} ≥ {t.reject_above:.2f} "
            f"with {DANGEROUS[label]} {value:.2f} ≥ {max(rule.queue_at, CONFIRMED):.2f}",
            "toxic",
        )
    if review_reason:
        return Outcome(Status.QUEUED, review_reason, "premoderation")
    if ReasonCode.NOT_SCORED in by_code:  # nothing was checked: not even a trusted author's is approved
        return Outcome(Status.QUEUED, by_code[ReasonCode.NOT_SCORED][0].detail, "unscored")
    if ReasonCode.SUSPECT_WORD in by_code:
        return Outcome(
            Status.QUEUED,
            "; ".join(r.detail for r in by_code[ReasonCode.SUSPECT_WORD]),
            ReasonCode.SUSPECT_WORD,
        )
    if dangers:
        label, value, rule = dangers[0]
        return Outcome(
            Status.QUEUED,
            f"possible {DANGEROUS[label]} {value:.2f} ≥ {rule.queue_at:.2f}: a person decides",
            label,
        )
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
            f"toxicity {toxicity:.2f} < approve below {t.approve_below:.2f}",
            "clean",
        )
    if t.rude == "approve":
        return Outcome(
            Status.APPROVED,
            f"toxicity {toxicity:.2f}, no threat, hate or harassment: the site publishes rudeness",
            "rude",
        )
    if toxicity >= t.reject_above:
        return Outcome(
            Status.QUEUED,
            f"toxicity {toxicity:.2f} ≥ {t.reject_above:.2f} but no threat, hate or harassment: "
            "a person decides",
            "toxic",
        )
    return Outcome(
        Status.QUEUED,
        f"toxicity {toxicity:.2f} between {t.approve_below:.2f} and {t.reject_above:.2f}: a person decides",
        "uncertain",
    )
