"""Reading a scope's counts: rolled-up rows for finished slots, live ones for the rest."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import (
    ReportRollup,
)
from service.reporting.period import SLOT_SECONDS
from service.reporting.rollup.events import _cells, compute
from service.reporting.rollup.filling import fill
from service.reporting.rollup.moves import late
from service.reporting.rollup.slots import LATE, Row, _rows, _slot
from service.reporting.scope import Scope


def counts(
    session: Session, scope: Scope, measures: Iterable[str], start: datetime, end: datetime
) -> list[Row]:
    """The scope's ``measures`` per slot in [start, end) (slot-aligned instants): events that
    happened then, and for late measures the comments that arrived then."""
    wanted = set(measures)
    if scope.article is not None:
        if wanted & LATE:
            raise ValueError("late measures are rolled up for a whole site or section only")
        return [row for row in compute(session, scope, start, end, measures=wanted) if row[1] in wanted]
    until = fill(session, scope, steps=1)
    rows: list[Row] = []
    if start < until:
        rows = [
            (slot, measure, key, value)
            for slot, measure, key, value in session.execute(
                select(ReportRollup.slot, ReportRollup.measure, ReportRollup.key, ReportRollup.value).where(
                    ReportRollup.site_id == scope.site.id,
                    ReportRollup.measure.in_(wanted),
                    ReportRollup.section == (scope.section or ""),
                    ReportRollup.slot >= _slot(start),
                    ReportRollup.slot < _slot(min(end, until)),
                )
            )
        ]
    # Since the rollup: events from ``until`` on, and moves from what was written since then, for
    # the whole site (by the time indexes) and then kept for the section.
    first, last = _slot(start), _slot(end)
    whole = Scope(scope.site, scope.period, scope.settings)
    recent = _cells(session, whole, max(start, until), end, measures=wanted) if end > until else []
    if wanted & LATE:
        recent += late(session, scope.site.id, until, None, SLOT_SECONDS, wanted & LATE)
    mine = _rows([cell for cell in recent if scope.section in (None, cell[0])])
    return rows + [row for row in mine if row[1] in wanted and first <= row[0] < last]
