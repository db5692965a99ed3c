"""Moderators: decisions per person, median handling time and how often each overturned the model.

For coaching and workload, not surveillance: only admins see it. Stet does not record when a
moderator opened a comment, so handling time is the gap since the same moderator's previous
decision on this site, counted only within a working session (gaps under ``SESSION_GAP``).
The model's lean on a comment is its own decision when it made one, otherwise reject when the
comment's risk (its highest toxicity or spam score) is at least 0.5; a moderator decision against
that lean is an overturn.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Status, User
from service.reporting import rollup
from service.reporting.result import Cell, Chart, EditorReport, Table, nearest_rank, share
from service.reporting.rollup import SESSION_GAP
from service.reporting.scope import Scope

DECIDING = (Status.APPROVED.value, Status.REJECTED.value)


def build(session: Session, scope: Scope) -> EditorReport:
    """Per moderator, from the rollup's ``moderator`` and ``handling`` counts (see ``rollup``)."""
    period = scope.period
    tally: dict[int | None, Counter[str]] = defaultdict(Counter)
    gaps: dict[int | None, Counter[int]] = defaultdict(Counter)
    for _slot, measure, key, n in rollup.counts(
        session, scope, ("moderator", "handling"), period.start, period.end
    ):
        if measure == "moderator":
            user, status, overturned = key.split(":")
            if status in DECIDING:  # an undo puts a comment back; it is neither a decision nor an overturn
                tally[_user(user)].update({"total": n, status: n, "overturned": n * int(overturned)})
        else:
            user, gap = key.split(":")
            gaps[_user(user)][int(gap)] += n
    counted = {
        user: (
            counts["total"],
            counts[Status.APPROVED.value],
            counts[Status.REJECTED.value],
            counts["overturned"],
            nearest_rank(gaps[user], 0.5),  # the lower middle of an even count
        )
        for user, counts in tally.items()
        if counts["total"]
    }
    names: dict[int | None, str] = dict(
        session.execute(select(User.id, User.name).where(User.id.in_(list(counted)))).all()
    )

    def name(user_id: int | None) -> str:
        return names.get(user_id, f"user {user_id}" if user_id else "a deleted user")

    rows: list[list[Cell]] = [
        [
            name(user_id),
            total,
            int(approved),
            int(rejected),
            median,
            int(overturned),
            share(overturned, total),
        ]
        for user_id, (total, approved, rejected, overturned, median) in sorted(
            counted.items(), key=lambda item: (-item[1][0], name(item[0]))
        )
    ]
    table = Table(
        "moderators",
        "Decisions per moderator",
        [
            "Moderator",
            "Decisions",
            "Approved",
            "Rejected",
            "Median handling seconds",
            "Overturned",
            "Overturn rate",
        ],
        rows,
        percent=("Overturn rate",),
    )
    total = sum(decisions for decisions, _approved, _rejected, _overturned, _median in counted.values())
    overturns = sum(overturned for _total, _approved, _rejected, overturned, _median in counted.values())
    return EditorReport(
        "moderators",
        "Moderators",
        figures={
            "Moderators active": len(rows),
            "Decisions": total,
            "Overturn rate": share(overturns, total),
        },
        tables=[table],
        charts=[Chart("Decisions per moderator", "bar", "moderators", "Moderator", ["Approved", "Rejected"])],
        notes=[
            "Handling time is the gap since the moderator's previous decision, within a working session "
            f"(under {SESSION_GAP // 60} minutes). An overturn is a decision against the model's lean.",
        ],
    )


def _user(key: str) -> int | None:
    return None if key == "None" else int(key)  # a decision whose user was since deleted
