"""Toxicity and spam: how many comments score above each threshold, per label, and the top reasons.

Toxicity-family labels (toxicity, insult, threat, ...) are measured against the toxicity
thresholds, spam against the spam thresholds (the site's, or the article's when one is chosen).
A comment scored by several scorers counts once per label, with its highest score.
"""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from service.models import Comment, Reason, Score
from service.reporting.result import Chart, Report, Table, share
from service.reporting.scope import Scope

TOP_REASONS = 10


def build(session: Session, scope: Scope) -> Report:
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
    labels = Table(
        "labels",
        "Comments above each threshold, per label",
        [
            "Label",
            "Hold at",
            "Reject at",
            "Scored",
            "Above hold",
            "Share above hold",
            "Above reject",
            "Share above reject",
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
        percent=("Share above hold", "Share above reject"),
    )
    received = (
        session.scalar(
            scope.during(scope.comments(select(func.count()).select_from(Comment)), Comment.created_at)
        )
        or 0
    )
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
    top = Table(
        "reasons",
        f"Top {TOP_REASONS} reasons given by the scorers",
        ["Reason", "Comments", "Share of comments"],
        [[code, count, share(count, received)] for code, count in reasons],
        percent=("Share of comments",),
    )
    toxicity = next((row for row in labels.rows if row[0] == "toxicity"), None)
    spam = next((row for row in labels.rows if row[0] == "spam"), None)
    return Report(
        "moderation",
        "Toxicity and spam",
        figures={
            "Comments received": received,
            "Share held or rejected for toxicity": toxicity[5] if toxicity else None,
            "Share held or rejected for spam": spam[5] if spam else None,
        },
        tables=[labels, top],
        charts=[
            Chart("Label mix: comments above the hold threshold", "bar", "labels", "Label", ["Above hold"]),
            Chart("Top reasons", "bar", "reasons", "Reason", ["Comments"]),
        ],
    )
