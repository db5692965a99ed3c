"""The rollup's vocabulary: measures, rows and cells, slots and score buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, literal

from service.models import (
    Site,
    Status,
    utcnow,
)
from service.reporting.period import SLOT_SECONDS, zone_of
from service.reporting.scope import epoch

# Keyed by the comment's arrival (``simulation``: by the model's decision), moved when they change.
LATE = frozenset({"score", "reason", "simulation"})
# Measures only ever summed over a whole period: rolled up per local day of the site, not per hour.
DAILY = LATE | {"moderator", "handling", "agreement", "identity"}
VERDICTS = (Status.APPROVED.value, Status.REJECTED.value)
HELD = (Status.QUEUED.value, Status.REJECTED.value)
SESSION_GAP = 600  # seconds: a moderator's decisions further apart are not one working session
Row = tuple[int, str, str, int]  # (slot in quarter-hours, measure, key, value)
Cell = tuple[str | None, int, str, str, int]  # a Row of one section (an article's section, or None)


def slot_seconds(site: Site) -> int:
    """3600 when the site's zone is a whole number of hours from UTC all year, else 900."""
    zone = zone_of(site.timezone)
    year = utcnow().year
    offsets = {
        datetime(year, month, 1, tzinfo=UTC).astimezone(zone).utcoffset() or timedelta()
        for month in (1, 4, 7, 10)
    }
    return 3600 if all(offset.total_seconds() % 3600 == 0 for offset in offsets) else SLOT_SECONDS


def _bucket(value: Any) -> Any:
    """The largest k with k/100 <= value as the database compares floats (k is within one of the
    truncated or rounded value*100, so one step each way corrects it)."""
    k = cast(value * 100, Integer)
    return case(
        (value >= (k + 1) / literal(100.0), k + 1),
        (value < k / literal(100.0), k - 1),
        else_=k,
    )


def bucket_of(threshold: float) -> int | None:
    """The bucket a threshold starts, or None when it is not a multiple of 0.01 (no exact count)."""
    k = round(threshold * 100)
    return k if k / 100 == threshold else None


def _at(seconds: int) -> Any:
    def at(column: Any) -> Any:
        return ((epoch(column) // seconds) * (seconds // SLOT_SECONDS)).label("slot")

    return at


def _rows(cells: list[Cell]) -> list[Row]:
    """Cells summed over sections."""
    return _merge([(int(slot), measure, key, value) for _section, slot, measure, key, value in cells])


def _merge(rows: list[Any]) -> list[Any]:
    """Sum rows that are the same but for their value (the last item); drop those that cancel out."""
    totals: dict[tuple[Any, ...], int] = {}
    for row in rows:
        totals[tuple(row[:-1])] = totals.get(tuple(row[:-1]), 0) + int(row[-1])
    return [(*k, v) for k, v in totals.items() if v]


def _floor(instant: datetime, seconds: int) -> datetime:
    stamp = int(instant.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def _slot(instant: datetime) -> int:
    return int(instant.timestamp()) // SLOT_SECONDS
