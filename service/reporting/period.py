"""The time a report covers, in the site's zone, and its buckets (hour, day or week).

Everything is stored in UTC. SQL groups rows by UTC quarter-hour slot (the same integer
expression on SQLite and PostgreSQL, see ``scope.slot``); this module folds those slots into the
site's local hours, days and Monday-first weeks, so daylight-saving days have 23 or 25 hours and
zones with half- or quarter-hour offsets still get exact local days. A 30-day report folds at most
2,880 small rows in Python, never the comments themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SLOT_SECONDS = 900  # every zone's UTC offset is a multiple of 15 minutes
PRESETS = {"today": 1, "7d": 7, "30d": 30}
BUCKETS = ("hour", "day", "week")
MAX_DAYS = 400


class PeriodError(ValueError):
    """A date range that cannot be reported on; the message says why (and ``field`` which input)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def zone_of(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day starts."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """Local days ``first``..``last`` (inclusive) in ``zone``, as UTC instants [start, end)."""

    first: date
    last: date
    zone: ZoneInfo
    bucket: str

    @property
    def start(self) -> datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1), self.zone)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def key(self, instant: datetime) -> datetime | date:
        """The bucket an instant falls in: its UTC hour start, its local date, or its local Monday."""
        local = instant.astimezone(self.zone)
        if self.bucket == "hour":
            return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        if self.bucket == "day":
            return local.date()
        return local.date() - timedelta(days=local.weekday())

    def buckets(self) -> list[tuple[datetime | date, str]]:
        """Every bucket of the period in order, with its label in local time (empty ones included)."""
        if self.bucket == "hour":
            hours = int((self.end - self.start).total_seconds() // 3600)
            instants = [self.start + timedelta(hours=h) for h in range(hours)]
        else:
            instants = [local_midnight(self.first + timedelta(days=d), self.zone) for d in range(self.days)]
        out: dict[datetime | date, str] = {}
        for instant in instants:
            out.setdefault(self.key(instant), self.label(self.key(instant)))
        return list(out.items())

    def begun(self, key: datetime | date, now: datetime) -> bool:
        """Whether the bucket ``key`` has started by ``now``: a level is not drawn into hours to come."""
        if isinstance(key, datetime):
            return key <= now
        return key <= now.astimezone(self.zone).date()

    def label(self, key: datetime | date) -> str:
        if isinstance(key, datetime):
            return key.astimezone(self.zone).strftime("%a %d %H:%M %Z")
        return key.isoformat() if self.bucket == "day" else f"week of {key.isoformat()}"

    def fold(self, slots: Iterable[tuple[int, float]]) -> dict[datetime | date, float]:
        """Sum ``(slot, value)`` rows (slot = UTC quarter-hours since the epoch) into buckets."""
        totals: dict[datetime | date, float] = {}
        for slot, value in slots:
            key = self.key(datetime.fromtimestamp(int(slot) * SLOT_SECONDS, UTC))
            totals[key] = totals.get(key, 0) + (value or 0)
        return totals

    def series(self, slots: Iterable[tuple[int, float]]) -> list[float]:
        """``fold`` laid out over every bucket, zeros where nothing happened."""
        totals = self.fold(slots)
        return [totals.get(key, 0) for key, _label in self.buckets()]


def parse_period(args: Mapping[str, str], zone: ZoneInfo, today: date | None = None) -> Period:
    """A period from request arguments: ``range`` (today, 7d, 30d) or ``from``/``to`` local dates
    (YYYY-MM-DD, inclusive), and an optional ``bucket``; the default is the last 7 days."""
    today = today or datetime.now(zone).date()
    start_arg, end_arg = args.get("from") or "", args.get("to") or ""
    preset = args.get("range") or ("custom" if start_arg or end_arg else "7d")
    if preset == "custom":
        first = _date(start_arg or end_arg, "from")
        last = _date(end_arg or start_arg, "to")
        if last < first:
            raise PeriodError("'to' is before 'from'", "to")
        if (last - first).days >= MAX_DAYS:
            raise PeriodError(f"a report covers at most {MAX_DAYS} days", "from")
    elif preset in PRESETS:
        first, last = today - timedelta(days=PRESETS[preset] - 1), today
    else:
        raise PeriodError(f"range must be one of {', '.join([*PRESETS, 'custom'])}", "range")
    days = (last - first).days + 1
    bucket = args.get("bucket") or ("hour" if days <= 2 else "day" if days <= 62 else "week")
    if bucket not in BUCKETS:
        raise PeriodError(f"bucket must be one of {', '.join(BUCKETS)}", "bucket")
    if bucket == "hour" and days > 31:
        raise PeriodError("hourly buckets cover at most 31 days", "bucket")
    return Period(first, last, zone, bucket)


def _date(value: str, field: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"{field} must be a date as YYYY-MM-DD, not {value!r}", field) from None
    if not 1970 <= day.year <= 9000:
        raise PeriodError(f"{field} must be a date between 1970 and 9000", field)
    return day
