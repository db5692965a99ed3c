"""Toxicity and spam: how many comments score above each threshold, per label, and the top reasons.

Toxicity-family labels (toxicity, insult, threat, ...) are measured against the toxicity
thresholds, spam against the spam thresholds (the site's, or the article's when one is chosen).
A comment scored by several scorers counts once per label, with its highest score.

For a whole site or a section, when every threshold is a multiple of 0.01, the counts come from
the rollup's per-label score histograms and reason counts (``rollup``, by arrival); otherwise (an
article, or a threshold such as 0.955) from the scores themselves.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.models import Comment, Reason, Score
from service.reporting import rollup
from service.reporting.result import Chart, EditorReport, Table, share
from service.reporting.scope import Scope

TOP_REASONS = 10


def build(session: Session, scope: Scope) -> EditorReport:
    t = scope.thresholds
    limits = (t.approve_below, t.reject_above, t.spam_queue_above, t.spam_reject_above)
    rolled = scope.article is None
    if rolled and all(rollup.bucket_of(limit) is not None for limit in limits):
        received, rows, reasons = _from_rollup(session, scope)
    else:
        received, rows, reasons = _live(session, scope)
    labels = Table(
        "labels",
        "Comments above each threshold, per label",
        [
            "Label",
            "Approve below",
            "Reject above",
            "Scored",
            "Not approved",
            "Share not approved",
            "Over reject above",
            "Share over reject above",
        ],
        [
            [
                label,
                t.spam_queue_above if label == "spam" else t.approve_below,
                t.spam_reject_above if label == "spam" else t.reject_above,
                scored,
                int(held or 0),
                share(held or 0, scored),
                int(rejected or 0),
                share(rejected or 0, scored),
            ]
            for label, scored, held, rejected in rows
        ],
        percent=("Share not approved", "Share over reject above"),
    )
    top = Table(
        "reasons",
        f"Top {TOP_REASONS} reasons given by the scorers",
        ["Reason", "Comments", "Share of comments"],
        [[code, count, share(count, received)] for code, count in reasons],
        percent=("Share of comments",),
    )
    toxicity = next((row for row in labels.rows if row[0] == "toxicity"), None)
    spam = next((row for row in labels.rows if row[0] == "spam"), None)
    return EditorReport(
        "moderation",
        "Toxicity and spam",
        figures={
            "Comments received": received,
            "Share not approved for toxicity": toxicity[5] if toxicity else None,
            "Share not approved for spam": spam[5] if spam else None,
        },
        tables=[labels, top],
        charts=[
            Chart("Not approved, per label", "bar", "labels", "Label", ["Not approved"]),
            Chart("Top reasons", "bar", "reasons", "Reason", ["Comments"]),
        ],
    )


def _from_rollup(session: Session, scope: Scope) -> tuple[int, list, list]:
    """Comments received, per label (scored, not approved, over reject above) and the top reasons, from
    the rollup."""
    t = scope.thresholds
    histogram: dict[str, Counter[int]] = {}
    reasons: Counter[str] = Counter()
    received, period = 0, scope.period
    measures = ("received", "score", "reason")
    for _slot, measure, key, n in rollup.counts(session, scope, measures, period.start, period.end):
        if measure == "received":
            received += n
        elif measure == "reason":
            reasons[key] += n
        else:
            label, bucket = key.rsplit(":", 1)
            histogram.setdefault(label, Counter())[int(bucket)] += n
    rows = []
    for label in sorted(histogram):
        spam = label == "spam"
        hold = rollup.bucket_of(t.spam_queue_above if spam else t.approve_below)
        reject = rollup.bucket_of(t.spam_reject_above if spam else t.reject_above)
        counts = histogram[label]
        scored = sum(counts.values())
        if scored:
            assert hold is not None and reject is not None  # build reads the rollup only for such thresholds
            rows.append(
                (
                    label,
                    scored,
                    sum(n for b, n in counts.items() if b >= hold),
                    sum(n for b, n in counts.items() if b >= reject),
                )
            )
    top = sorted(((code, n) for code, n in reasons.items() if n > 0), key=lambda r: (-r[1], r[0]))
    return received, rows, top[:TOP_REASONS]


def _live(session: Session, scope: Scope) -> tuple[int, list, list]:
    """The same figures from the comments, scores and reasons of the period's comments."""
    t = scope.thresholds
    per_comment = (
        scope.during(
            scope.comments(
                select(Score.label, func.max(Score.value).label("value"))
                .join(Comment, Comment.id == Score.comment_id)
                .group_by(Score.comment_id, Score.label)
            ),
            Comment.created_at,
        )
    ).subquery()
    is_spam = per_comment.c.label == "spam"
    hold = case((is_spam, t.spam_queue_above), else_=t.approve_below)
    reject = case((is_spam, t.spam_reject_above), else_=t.reject_above)
    rows = session.execute(
        select(
            per_comment.c.label,
            func.count(),
            func.sum(case((per_comment.c.value >= hold, 1), else_=0)),
            func.sum(case((per_comment.c.value >= reject, 1), else_=0)),
        )
        .group_by(per_comment.c.label)
        .order_by(per_comment.c.label)
    ).all()
    with_reason = func.count(func.distinct(Reason.comment_id))
    reasons = session.execute(
        scope.during(
            scope.comments(select(Reason.code, with_reason).join(Comment, Comment.id == Reason.comment_id)),
            Comment.created_at,
        )
        .group_by(Reason.code)
        .order_by(with_reason.desc(), Reason.code)
        .limit(TOP_REASONS)
    ).all()
    received = session.scalar(
        scope.during(scope.comments(select(func.count()).select_from(Comment)), Comment.created_at)
    )
    return received or 0, [tuple(row) for row in rows], [tuple(row) for row in reasons]
