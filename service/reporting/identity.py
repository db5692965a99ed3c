"""The identity monitor: are comments that mention identity groups held or overturned more often?

The terms are ``service.identity.IDENTITY_TERMS``, the list the model is debiased with. A
comment's body is matched once, when it is saved (whole words, case-insensitive):
``Comment.mentions_identity``, a column of the reports index, so the monitor counts in SQL
without reading any body. The 0004 migration flags older comments (SQL ``LIKE`` finds
candidates among them, Python checks word boundaries).

Held: the model queued or rejected the comment. Overturned: a person approved a comment the
model held or rejected (out of those a person decided).
"""

from __future__ import annotations

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from service.models import Comment, Decision, Status
from service.reporting.result import Table, share
from service.reporting.scope import Scope

APPROACH = (
    "Identity monitor: comments whose text contains one of a documented list of identity terms as a "
    "whole word, matched when the comment is saved."
)
HELD = (Status.QUEUED.value, Status.REJECTED.value)


def monitor(session: Session, scope: Scope) -> Table:
    """Two grouped queries: the period's comments per flag (from the comments index alone), then the
    held ones (the few the model queued or rejected, found through the decisions index) per flag,
    status now and whether a person decided them."""
    comments = scope.during(scope.comments(select()), Comment.created_at)
    received = dict(
        session.execute(
            comments.add_columns(Comment.mentions_identity, func.count()).group_by(Comment.mentions_identity)
        ).all()
    )
    # An auto decision never precedes its comment, so the period's start bounds the index range.
    held_ids = select(Decision.comment_id).where(
        Decision.by == "auto", Decision.status.in_(HELD), Decision.created_at >= scope.period.start
    )
    person = exists().where(Decision.comment_id == Comment.id, Decision.by == "moderator")
    held = (
        comments.add_columns(
            Comment.mentions_identity.label("mentions"),
            Comment.status,
            case((person, 1), else_=0).label("person"),
        )
        .where(Comment.id.in_(held_ids))
        .subquery()
    )
    counts = {True: [received.get(True, 0), 0, 0, 0], False: [received.get(False, 0), 0, 0, 0]}
    for mentions, status, decided, n in session.execute(
        select(held, func.count()).group_by(held.c.mentions, held.c.status, held.c.person)
    ):
        tally = counts[bool(mentions)]
        tally[1] += n
        if decided:
            tally[2] += n
            tally[3] += n if status == Status.APPROVED.value else 0
    rows = [
        [group, n, on_hold, share(on_hold, n), decided, overturned, share(overturned, decided)]
        for group, (n, on_hold, decided, overturned) in (
            ("Mentions an identity group", counts[True]),
            ("Does not", counts[False]),
        )
    ]
    return Table(
        "identity",
        "Identity monitor: held and overturned",
        [
            "Comments",
            "Received",
            "Held by the model",
            "Hold rate",
            "Held and decided by a person",
            "Approved by a person",
            "Overturn rate",
        ],
        rows,
        percent=("Hold rate", "Overturn rate"),
    )
