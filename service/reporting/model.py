"""The model against the moderators: on comments a person decided, what the model would have
auto-decided at the current thresholds (precision and recall per label and section), and what a
change of the toxicity thresholds, or of a dangerous attribute's rule, would have done to the queue.

A toxicity-family label (toxicity, insult, threat, ...) "would reject" at the toxicity reject
threshold and "would approve" below the approve threshold (the article's own thresholds where it
has them, else the site's); spam uses the spam thresholds. It is compared with every moderator
approval or rejection made in the period, using the comment's highest score per label written
before that decision (a comment decided twice counts twice). The counts come from the rollup's
``agreement`` histograms, or from the decisions themselves when a threshold is not a multiple
of 0.01. The threshold simulator likewise reads the rollup's ``simulation`` histograms (for a site
or a section), or the decisions (for an article, or thresholds off the 0.01 steps). It follows the
policy: a lower toxicity reject threshold rejects only comments the model queued for a dangerous
attribute (threat, identity attack, ...), since toxicity alone never rejects; and where the site
publishes rude comments, a lower approve threshold changes nothing. A dangerous attribute's rule
(hold from ``queue_at``, reject from ``reject_at``) is simulated from the decisions and their
comments' scores for that attribute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from service.models import Article, Comment, Decision, Score, Status
from service.moderation import thresholds_for
from service.policy import DANGEROUS, AttributeRule, Thresholds
from service.reporting import identity, rollup
from service.reporting.period import SLOT_SECONDS
from service.reporting.result import Cell, Chart, EditorReport, Table, share
from service.reporting.scope import Scope

APPROVED, REJECTED, QUEUED = Status.APPROVED.value, Status.REJECTED.value, Status.QUEUED.value
ALL = "all sections"


def build(
    session: Session,
    scope: Scope,
    approve_below: float | None = None,
    reject_above: float | None = None,
    attributes: Mapping[str, AttributeRule] | None = None,
) -> EditorReport:
    agreement = agreement_table(session, scope)
    overall = next((row for row in agreement.rows if row[0] == "toxicity" and row[1] == ALL), None)
    simulation = simulate(session, scope, approve_below, reject_above, attributes)
    monitor = identity.monitor(session, scope)
    # Per label over all sections, the part of the agreement table its chart draws.
    outcomes = Table(
        "outcomes",
        "What the model would have done with what your moderators decided",
        ["Label", "Would approve", "Would queue", "Would reject"],
        [[row[0], row[3], row[5], row[4]] for row in agreement.rows if row[1] == ALL],
    )
    return EditorReport(
        "model",
        "Model against moderators",
        figures={
            "Moderator decisions": overall[2] if overall else 0,
            "Toxicity reject precision": overall[8] if overall else None,
            "Toxicity reject recall": overall[9] if overall else None,
        },
        tables=[agreement, outcomes, simulation, monitor],
        charts=[
            Chart(
                "What the model would have done, per label",
                "bar",
                "outcomes",
                "Label",
                ["Would approve", "Would queue", "Would reject"],
            )
        ],
        notes=[identity.APPROACH],
    )


def agreement_table(session: Session, scope: Scope) -> Table:
    period = scope.period
    rows = rollup.counts(session, scope, ("agreement",), period.start, period.end)
    own = {int(key.rsplit("#", 1)[1]) for _s, _m, key, _n in rows if key.split(":", 3)[3].startswith("#")}
    articles = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(own)))} if own else {}
    limits: dict[int | None, Thresholds] = {None: scope.thresholds}  # article id -> its own
    limits.update({i: thresholds_for(scope.site, scope.settings, a) for i, a in articles.items()})

    def cuts(label: str, group: int | None) -> tuple[float, float]:
        t = limits[group]
        spam = label == "spam"
        return (t.spam_queue_above, t.spam_reject_above) if spam else (t.approve_below, t.reject_above)

    exact = not all(
        rollup.bucket_of(cut) is not None
        for label in ("spam", "toxicity")
        for g in limits
        for cut in cuts(label, g)
    )
    if exact:  # a threshold between buckets: the decisions' scores themselves, from the base tables
        cells = rollup.agreement(session, scope, period.start, period.end, SLOT_SECONDS, exact=True)
        rows = [cell[1:] for cell in cells]
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for _slot, _measure, key, count in rows:
        label, score, status, group = key.split(":", 3)
        own_limits = articles.get(int(group[1:])) if group.startswith("#") else None
        section = own_limits.section if own_limits else None if group.startswith("#") else group[1:]
        approve_at, reject_at = cuts(label, own_limits.id if own_limits else None)
        value = float(score) if exact else int(score)
        if not exact:
            approve_at, reject_at = rollup.bucket_of(approve_at), rollup.bucket_of(reject_at)  # type: ignore[assignment]
        would = REJECTED if value >= reject_at else APPROVED if value < approve_at else QUEUED
        counts[(label, section or "(none)", status, would)] += count
        counts[(label, ALL, status, would)] += count
    table: list[list[Cell]] = []
    for label, section in sorted({key[:2] for key in counts}, key=lambda k: (k[0], k[1] != ALL, k[1])):
        tally = {(st, wd): v for (lb, sc, st, wd), v in counts.items() if (lb, sc) == (label, section)}
        n = lambda status=None, would=None, tally=tally: sum(  # noqa: E731
            v for (st, wd), v in tally.items() if status in (None, st) and would in (None, wd)
        )
        table.append(
            [
                label,
                section,
                n(),
                n(would=APPROVED),
                n(would=REJECTED),
                n(would=QUEUED),
                share(n(APPROVED, APPROVED), n(would=APPROVED)),
                share(n(APPROVED, APPROVED), n(APPROVED)),
                share(n(REJECTED, REJECTED), n(would=REJECTED)),
                share(n(REJECTED, REJECTED), n(REJECTED)),
            ]
        )
    return Table(
        "agreement",
        "What the model would have decided on comments your moderators decided",
        [
            "Label",
            "Section",
            "Decided",
            "Would approve",
            "Would reject",
            "Would queue",
            "Approve precision",
            "Approve recall",
            "Reject precision",
            "Reject recall",
        ],
        table,
        percent=("Approve precision", "Approve recall", "Reject precision", "Reject recall"),
    )


def simulate(
    session: Session,
    scope: Scope,
    approve_below: float | None = None,
    reject_above: float | None = None,
    attributes: Mapping[str, AttributeRule] | None = None,
) -> Table:
    """What other toxicity thresholds, and other rules for the dangerous ``attributes``, would have
    done to the comments the model saw in the period."""
    t = scope.thresholds
    new_approve = t.approve_below if approve_below is None else approve_below
    new_reject = t.reject_above if reject_above is None else reject_above
    limits = (t.approve_below, t.reject_above, new_approve, new_reject)
    if scope.article is None and all(rollup.bucket_of(limit) is not None for limit in limits):
        affected = _rolled_up(session, scope)
    else:
        affected = _live(session, scope)
    rows: list[list[Cell]] = []
    if new_reject < t.reject_above:
        count, approved = affected(QUEUED, tuple(DANGEROUS), new_reject, t.reject_above, APPROVED)
        rows.append(
            [
                f"auto-reject at {new_reject:g} instead of {t.reject_above:g}",
                "at most this many fewer queued (those held for a threat, hate or harassment at 0.5+)",
                count,
                round(count / scope.period.days, 1),
                approved,
                "approved by your moderators",
            ]
        )
    elif new_reject > t.reject_above:
        count, _ = affected(REJECTED, ("toxic",), t.reject_above, new_reject, APPROVED)
        rows.append(
            [
                f"auto-reject at {new_reject:g} instead of {t.reject_above:g}",
                "more queued",
                count,
                round(count / scope.period.days, 1),
                None,
                "",
            ]
        )
    if t.rude == "approve" and new_approve != t.approve_below:
        rows.append(
            [
                f"auto-approve below {new_approve:g} instead of {t.approve_below:g}",
                "none: this site publishes rude comments without a threat, hate or harassment",
                0,
                0.0,
                None,
                "",
            ]
        )
    elif new_approve > t.approve_below:
        count, rejected = affected(QUEUED, ("uncertain",), t.approve_below, new_approve, REJECTED)
        rows.append(
            [
                f"auto-approve below {new_approve:g} instead of {t.approve_below:g}",
                "fewer queued",
                count,
                round(count / scope.period.days, 1),
                rejected,
                "rejected by your moderators",
            ]
        )
    elif new_approve < t.approve_below:
        count, _ = affected(APPROVED, ("clean",), new_approve, t.approve_below, REJECTED)
        rows.append(
            [
                f"auto-approve below {new_approve:g} instead of {t.approve_below:g}",
                "more queued",
                count,
                round(count / scope.period.days, 1),
                None,
                "",
            ]
        )
    for label, rule in (attributes or {}).items():
        rows += _attribute_rows(session, scope, label, t.attributes.get(label, AttributeRule(1.0)), rule)
    return Table(
        "simulation",
        "Threshold simulator",
        ["Change", "Effect", "Comments", "Per day", "Moderators disagreed", "How"],
        rows,
    )


def _attribute_rows(
    session: Session, scope: Scope, label: str, old: AttributeRule, new: AttributeRule
) -> list[list[Cell]]:
    """What another rule for one dangerous attribute would have done, from the decisions and their
    comments' scores for it (no rollup keeps these): from ``queue_at`` a comment is never
    published automatically, from ``reject_at`` it is rejected."""
    affected = _live(session, scope, label)
    name, days = DANGEROUS[label], scope.period.days
    rows: list[list[Cell]] = []
    if new.queue_at < old.queue_at:
        count, _ = affected(APPROVED, None, new.queue_at, old.queue_at, REJECTED)
        change = f"hold for {name} from {new.queue_at:g} instead of {old.queue_at:g}"
        rows.append([change, "more queued", count, round(count / days, 1), None, ""])
    elif new.queue_at > old.queue_at:
        count, rejected = affected(QUEUED, (label,), old.queue_at, new.queue_at, REJECTED)
        rows.append(
            [
                f"hold for {name} from {new.queue_at:g} instead of {old.queue_at:g}",
                f"fewer held for {name} (the other rules decide them)",
                count,
                round(count / days, 1),
                rejected,
                "rejected by your moderators",
            ]
        )
    # No reject_at: never rejected for it, as if only a score above any real one were.
    old_reject, new_reject = (NEVER if r.reject_at is None else r.reject_at for r in (old, new))
    if new_reject < old_reject:
        count, approved = affected(QUEUED, None, new_reject, old_reject, APPROVED)
        rows.append(
            [
                f"reject for {name} at {new_reject:g} instead of {_cut(old_reject)}",
                "fewer queued",
                count,
                round(count / days, 1),
                approved,
                "approved by your moderators",
            ]
        )
    elif new_reject > old_reject:
        count, _ = affected(REJECTED, (label,), old_reject, new_reject, APPROVED)
        change = f"reject for {name} at {_cut(new_reject)} instead of {old_reject:g}"
        rows.append([change, "more queued", count, round(count / days, 1), None, ""])
    return rows


NEVER = 2.0  # above every score


def _cut(value: float) -> str:
    return "never" if value >= NEVER else f"{value:g}"


Affected = Callable[[str, Collection[str] | None, float, float, str], tuple[int, int]]


def _rolled_up(session: Session, scope: Scope) -> Affected:
    """``affected`` from the rollup's ``simulation`` histograms (thresholds on the 0.01 buckets)."""
    period = scope.period
    seen: Counter[tuple[str, str, int, str]] = Counter()
    for _slot, _measure, key, n in rollup.counts(session, scope, ("simulation",), period.start, period.end):
        auto, category, bucket, now = key.split(":")
        seen[(auto, category, int(bucket), now)] += n

    def affected(
        auto: str, categories: Collection[str] | None, low: float, high: float, disagreed: str
    ) -> tuple[int, int]:
        """The model's ``auto`` decisions (made for one of ``categories``, any when None) with
        toxicity in [low, high), and how many of those comments are ``disagreed`` now."""
        first, last = rollup.bucket_of(low), rollup.bucket_of(high)
        matching = [
            (now, n)
            for (a, c, bucket, now), n in seen.items()
            if a == auto and (categories is None or c in categories) and first <= bucket < last  # type: ignore[operator]
        ]
        return sum(n for _now, n in matching), sum(n for now, n in matching if now == disagreed)

    return affected


def _live(session: Session, scope: Scope, label: str = "toxicity") -> Affected:
    """``affected`` from the period's model decisions and their comments' scores for ``label``
    (toxicity, or a dangerous attribute)."""
    category = Decision.details["category"].as_string()
    seen = (
        scope.during(
            scope.comments(
                select(
                    Decision.status.label("auto"),
                    category.label("category"),
                    Comment.status.label("now"),
                    func.max(Score.value).label("score"),
                )
                .join(Comment, Comment.id == Decision.comment_id)
                .join(Score, and_(Score.comment_id == Comment.id, Score.label == label))
                .where(Decision.by == "auto")
            ),
            Decision.created_at,
        )
        .group_by(Decision.id, Decision.status, category, Comment.status)
        .subquery()
    )

    def affected(
        auto: str, categories: Collection[str] | None, low: float, high: float, disagreed: str
    ) -> tuple[int, int]:
        which = [seen.c.auto == auto] + ([seen.c.category.in_(categories)] if categories else [])
        count, against = session.execute(
            select(func.count(), func.sum(case((seen.c.now == disagreed, 1), else_=0))).where(
                *which, seen.c.score >= low, seen.c.score < high
            )
        ).one()
        return count, int(against or 0)

    return affected
