"""Counts per UTC time slot for the time-series reports, rolled up once and read many times.

Every count here is keyed by when an event happened (a comment arrived, a decision was made, a
reader reported), never by a comment's current state, so a slot's counts are final once the slot
is over: a moderator deciding an old comment today is counted today. ``counts`` reads the site's
``ReportRollup`` rows for finished slots (filling the missing ones first, in one grouped query per
table) and computes the rest, up to now, from the base tables with the same ``compute``. Only a
whole-site scope is rolled up; a section or an article is computed live (it is a fraction of the
rows). Slots are UTC hours, or quarter-hours for a zone whose offset is not a whole number of
hours, so the site's local hours and days are always whole slots.

Measures: ``received``; ``decision`` keyed ``by:status``; ``queue`` (comments entering the queue
minus those leaving it); ``reported``; ``wait`` keyed by whole minutes from a comment's arrival to
a moderator's decision out of the queue (so percentiles are exact to the minute, rounded down).

Events stamped before ``until`` but committed after a fill (an import of old history) are not
in the rollup: ``invalidate`` drops a site's rows from a moment on (``stet report rollup``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.models import Comment, Decision, ReportRollup, ReportRollupState, Site, Status, utcnow
from service.models import Report as ReaderReport
from service.reporting.period import SLOT_SECONDS, zone_of
from service.reporting.scope import Scope, epoch

GRACE = timedelta(minutes=10)  # a slot is rolled up this long after it ends (late commits)
Row = tuple[int, str, str, int]  # (slot in quarter-hours, measure, key, value)


def slot_seconds(site: Site) -> int:
    """3600 when the site's zone is a whole number of hours from UTC all year, else 900."""
    zone = zone_of(site.timezone)
    year = utcnow().year
    offsets = {
        datetime(year, month, 1, tzinfo=UTC).astimezone(zone).utcoffset() or timedelta()
        for month in (1, 4, 7, 10)
    }
    return 3600 if all(offset.total_seconds() % 3600 == 0 for offset in offsets) else SLOT_SECONDS


def counts(
    session: Session, scope: Scope, measures: Iterable[str], start: datetime, end: datetime
) -> list[Row]:
    """The scope's ``measures`` per slot for events in [start, end) (slot-aligned instants)."""
    wanted = set(measures)
    if scope.section is not None or scope.article is not None:
        return [row for row in compute(session, scope, start, end) if row[1] in wanted]
    until = fill(session, scope)
    rows: list[Row] = []
    if start < until:
        rows = [
            (slot, measure, key, value)
            for slot, measure, key, value in session.execute(
                select(ReportRollup.slot, ReportRollup.measure, ReportRollup.key, ReportRollup.value).where(
                    ReportRollup.site_id == scope.site.id,
                    ReportRollup.measure.in_(wanted),
                    ReportRollup.slot >= _slot(start),
                    ReportRollup.slot < _slot(min(end, until)),
                )
            )
        ]
    if end > until:
        rows += [row for row in compute(session, scope, max(start, until), end) if row[1] in wanted]
    return rows


def fill(session: Session, scope: Scope, now: datetime | None = None) -> datetime:
    """Roll up the site's finished slots not yet rolled up; returns how far the rollup reaches."""
    site_id, seconds = scope.site.id, slot_seconds(scope.site)
    horizon = _floor((now or utcnow()) - GRACE, seconds)
    state = session.get(ReportRollupState, site_id, with_for_update=True, populate_existing=True)
    if state is not None and state.seconds != seconds:  # the site moved to a zone with another slot
        invalidate(session, site_id)
        state = None
    if state is None:
        first = session.scalar(select(func.min(Comment.created_at)).where(Comment.site_id == site_id))
        if first is None:
            return horizon
        try:
            with session.begin_nested():
                state = ReportRollupState(site_id=site_id, seconds=seconds, until=_floor(first, seconds))
                session.add(state)
        except IntegrityError:  # another request started this site's rollup at the same moment
            return _floor(first, seconds)
    if state.until >= horizon:
        return state.until
    rows = compute(session, scope, state.until, horizon, seconds)
    if rows:
        session.execute(
            insert(ReportRollup),
            [{"site_id": site_id, "slot": s, "measure": m, "key": k, "value": v} for s, m, k, v in rows],
        )
    state.until = horizon
    session.commit()
    return horizon


def invalidate(session: Session, site_id: int, since: datetime | None = None) -> None:
    """Forget a site's rolled-up counts from ``since`` on (all of them by default)."""
    stale = delete(ReportRollup).where(ReportRollup.site_id == site_id)
    state = session.get(ReportRollupState, site_id)
    if since is None or state is None:
        session.execute(stale)
        session.execute(delete(ReportRollupState).where(ReportRollupState.site_id == site_id))
    else:
        session.execute(stale.where(ReportRollup.slot >= _slot(_floor(since, state.seconds))))
        state.until = min(state.until, _floor(since, state.seconds))
    session.flush()


def compute(
    session: Session, scope: Scope, start: datetime, end: datetime, seconds: int = SLOT_SECONDS
) -> list[Row]:
    """Every measure per ``seconds``-long slot for the scope's events in [start, end), from the
    base tables: one grouped query per table."""

    def at(column):  # type: ignore[no-untyped-def]
        return ((epoch(column) // seconds) * (seconds // SLOT_SECONDS)).label("slot")

    received = scope.comments(
        select(at(Comment.created_at), literal("received"), literal(""), func.count()).where(
            Comment.created_at >= start, Comment.created_at < end
        )
    ).group_by("slot")
    reported = scope.articles(
        select(at(ReaderReport.created_at), literal("reported"), literal(""), func.count())
        .join(Comment, Comment.id == ReaderReport.comment_id)
        .where(
            ReaderReport.site_id == scope.site.id,
            ReaderReport.created_at >= start,
            ReaderReport.created_at < end,
        ),
        Comment.article_id,
    ).group_by("slot")
    rows: list[Row] = [tuple(row) for row in session.execute(union_all(received, reported))]  # type: ignore[misc]

    wait = (epoch(Decision.created_at) - epoch(Comment.created_at)) // 60
    decisions = scope.comments(
        select(
            at(Decision.created_at),
            Decision.by,
            Decision.status,
            Decision.from_status,
            func.count(),
        )
        .join(Comment, Comment.id == Decision.comment_id)
        .where(Decision.created_at >= start, Decision.created_at < end)
    ).group_by("slot", Decision.by, Decision.status, Decision.from_status)
    queue: dict[int, int] = {}
    for slot, by, status, from_status, count in session.execute(decisions):
        rows.append((slot, "decision", f"{by}:{status}", count))
        change = (status == Status.QUEUED.value) - (from_status == Status.QUEUED.value)
        if change:
            queue[slot] = queue.get(slot, 0) + change * count
    rows += [(slot, "queue", "", change) for slot, change in queue.items() if change]
    minutes = wait.label("minutes")
    waits = scope.comments(
        select(at(Decision.created_at), minutes, func.count())
        .join(Comment, Comment.id == Decision.comment_id)
        .where(
            Decision.created_at >= start,
            Decision.created_at < end,
            Decision.by == "moderator",
            Decision.from_status == Status.QUEUED.value,
        )
    ).group_by("slot", "minutes")
    rows += [(slot, "wait", str(m), n) for slot, m, n in session.execute(waits)]
    return _merge(rows)


def _merge(rows: list[Row]) -> list[Row]:
    """Sum rows that share a slot, measure and key (decisions of one slot from several statuses)."""
    totals: dict[tuple[int, str, str], int] = {}
    for slot, measure, key, value in rows:
        totals[(int(slot), measure, key)] = totals.get((int(slot), measure, key), 0) + int(value)
    return [(*k, v) for k, v in totals.items()]


def _floor(instant: datetime, seconds: int) -> datetime:
    stamp = int(instant.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)


def _slot(instant: datetime) -> int:
    return int(instant.timestamp()) // SLOT_SECONDS
