"""The model against the moderators: on comments a person decided, what the model would have
auto-decided at the current thresholds (precision and recall per label and section), and what a
change of the toxicity thresholds would have done to the queue.

A toxicity-family label (toxicity, insult, threat, ...) "would reject" at the toxicity reject
threshold and "would approve" below the approve threshold (the article's own thresholds where it
has them, else the site's); spam uses the spam thresholds. The person's verdict is the comment's
status now (so an undone decision counts as what it was changed to).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from service.models import Article, Comment, Decision, Score, Status
from service.reporting import identity
from service.reporting.result import Report, Table, share
from service.reporting.scope import Scope

APPROVED, REJECTED, QUEUED = Status.APPROVED.value, Status.REJECTED.value, Status.QUEUED.value
ALL = "all sections"


def build(
    session: Session, scope: Scope, approve_below: float | None = None, reject_above: float | None = None
) -> Report:
    agreement = agreement_table(session, scope)
    overall = next((row for row in agreement.rows if row[0] == "toxicity" and row[1] == ALL), None)
    simulation = simulate(session, scope, approve_below, reject_above)
    monitor = identity.monitor(session, scope)
    return Report(
        "model",
        "Model against moderators",
        figures={
            "Comments decided by moderators": overall[2] if overall else 0,
            "Toxicity reject precision": overall[8] if overall else None,
            "Toxicity reject recall": overall[9] if overall else None,
        },
        tables=[agreement, simulation, monitor],
        notes=[identity.APPROACH],
    )


def agreement_table(session: Session, scope: Scope) -> Table:
    t = scope.thresholds
    decided = scope.during(select(Decision.comment_id).where(Decision.by == "moderator"), Decision.created_at)
    is_spam = Score.label == "spam"
    approve_at = case(
        (is_spam, t.spam_queue_above), else_=func.coalesce(Article.approve_below, t.approve_below)
    )
    reject_at = case(
        (is_spam, t.spam_reject_above), else_=func.coalesce(Article.reject_above, t.reject_above)
    )
    per_label = scope.comments(
        select(
            Score.label,
            func.coalesce(Article.section, "").label("section"),
            Comment.status,
            func.max(Score.value).label("value"),
            func.max(approve_at).label("approve_at"),
            func.max(reject_at).label("reject_at"),
        )
        .join(Comment, Comment.id == Score.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.id.in_(decided), Comment.status.in_([APPROVED, REJECTED]))
        .group_by(Score.comment_id, Score.label, Article.section, Comment.status)
    ).subquery()
    verdict = case(
        (per_label.c.value >= per_label.c.reject_at, REJECTED),
        (per_label.c.value < per_label.c.approve_at, APPROVED),
        else_=QUEUED,
    )
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for label, section, status, would, n in session.execute(
        select(per_label.c.label, per_label.c.section, per_label.c.status, verdict, func.count()).group_by(
            per_label.c.label, per_label.c.section, per_label.c.status, verdict
        )
    ):
        counts[(label, section or "(none)", status, would)] += n
        counts[(label, ALL, status, would)] += n
    rows = []
    for label, section in sorted({key[:2] for key in counts}, key=lambda k: (k[0], k[1] != ALL, k[1])):
        group = {(st, wd): v for (lb, sc, st, wd), v in counts.items() if (lb, sc) == (label, section)}
        n = lambda status=None, would=None, group=group: sum(  # noqa: E731
            v for (st, wd), v in group.items() if status in (None, st) and would in (None, wd)
        )
        rows.append(
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
        rows,
        percent=("Approve precision", "Approve recall", "Reject precision", "Reject recall"),
    )


def simulate(
    session: Session, scope: Scope, approve_below: float | None = None, reject_above: float | None = None
) -> Table:
    """What other toxicity thresholds would have done to the comments the model saw in the period."""
    t = scope.thresholds
    new_approve = t.approve_below if approve_below is None else approve_below
    new_reject = t.reject_above if reject_above is None else reject_above
    category = Decision.details["category"].as_string()
    seen = (
        scope.during(
            scope.comments(
                select(
                    Decision.status.label("auto"),
                    category.label("category"),
                    Comment.status.label("now"),
                    func.max(Score.value).label("toxicity"),
                )
                .join(Comment, Comment.id == Decision.comment_id)
                .join(Score, and_(Score.comment_id == Comment.id, Score.label == "toxicity"))
                .where(Decision.by == "auto")
            ),
            Decision.created_at,
        )
        .group_by(Decision.id, Decision.status, category, Comment.status)
        .subquery()
    )

    def affected(condition, low: float, high: float, disagreed: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        count, against = session.execute(
            select(func.count(), func.sum(case((seen.c.now == disagreed, 1), else_=0))).where(
                condition, seen.c.toxicity >= low, seen.c.toxicity < high
            )
        ).one()
        return count, int(against or 0)

    rows = []
    if new_reject < t.reject_above:
        count, approved = affected(seen.c.auto == QUEUED, new_reject, t.reject_above, APPROVED)
        rows.append(
            [
                f"auto-reject at {new_reject:g} instead of {t.reject_above:g}",
                "fewer queued",
                count,
                round(count / scope.period.days, 1),
                approved,
                "approved by your moderators",
            ]
        )
    elif new_reject > t.reject_above:
        count, _ = affected(
            and_(seen.c.auto == REJECTED, seen.c.category == "toxic"), t.reject_above, new_reject, APPROVED
        )
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
    if new_approve > t.approve_below:
        count, rejected = affected(
            and_(seen.c.auto == QUEUED, seen.c.category == "uncertain"),
            t.approve_below,
            new_approve,
            REJECTED,
        )
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
        count, _ = affected(
            and_(seen.c.auto == APPROVED, seen.c.category == "clean"), new_approve, t.approve_below, REJECTED
        )
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
    return Table(
        "simulation",
        "Threshold simulator (toxicity)",
        ["Change", "Effect", "Comments", "Per day", "Moderators disagreed", "How"],
        rows,
    )
