"""The identity monitor: are comments that mention identity groups held or overturned more often?

The terms are ``service.identity.IDENTITY_TERMS``, the list the model is debiased with. A
comment's body is matched once, when it is saved (whole words, case-insensitive):
``Comment.mentions_identity``, a column of the reports index, so the monitor counts in SQL
without reading any body. The 0004 migration flags older comments (SQL ``LIKE`` finds
candidates among them, Python checks word boundaries).

Received: comments that arrived in the period. Held: the model's decisions in the period that
queued or rejected a comment. Decided by a person: moderators' approvals and rejections in the
period of comments the model had held; approved by a person, the overturns among them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from service.models import Status
from service.reporting import rollup
from service.reporting.result import Table, share
from service.reporting.scope import Scope

APPROACH = (
    "Identity monitor: comments whose text contains one of a documented list of identity terms as a "
    "whole word, matched when the comment is saved."
)


def monitor(session: Session, scope: Scope) -> Table:
    """The rollup's ``identity`` counts: comments received, the model's decisions and the
    moderators' decisions on held comments, per flag."""
    counts = {True: [0, 0, 0, 0], False: [0, 0, 0, 0]}
    period = scope.period
    for _slot, _measure, key, n in rollup.counts(session, scope, ("identity",), period.start, period.end):
        mentions, by, status = key.split(":")
        tally = counts[mentions == "1"]
        if by == "received":
            tally[0] += n
        elif by == "auto":
            tally[1] += n if status in rollup.HELD else 0
        else:
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
