"""Rolling the base tables up into ``ReportRollup`` rows, and taking comments back out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.config import Settings
from service.models import (
    Article,
    Comment,
    ReportRollup,
    ReportRollupState,
    Site,
)
from service.reporting.period import SLOT_SECONDS, Period, local_midnight, zone_of
from service.reporting.rollup import slots
from service.reporting.rollup.events import _cells
from service.reporting.rollup.moves import late
from service.reporting.rollup.slots import DAILY, Cell, _at, _floor, _merge, _slot, slot_seconds
from service.reporting.scope import Scope

FILL_STEP = 20_000  # a fill commits after about this many comments (and at least a day)
GRACE = timedelta(minutes=10)  # a slot is rolled up this long after it ends (late commits)


def fill(
    session: Session,
    scope: Scope,
    now: datetime | None = None,
    progress: Callable[[datetime, datetime], None] | None = None,
    steps: int | None = None,
) -> datetime:
    """Roll up the site's finished slots not yet rolled up; returns how far the rollup reaches.

    In steps of about ``FILL_STEP`` comments, each committed (so a first fill over years of
    history never holds SQLite's write lock for long), at most ``steps`` of them (a report page
    takes one and computes the rest itself, leaving a long first fill to the worker);
    ``progress`` is told how far each step reached, and the horizon."""
    site_id, seconds = scope.site.id, slot_seconds(scope.site)
    horizon = _floor((now or slots.utcnow()) - GRACE, seconds)
    zone = scope.site.timezone or "UTC"
    state = session.get(ReportRollupState, site_id)
    if state is not None and (state.seconds, state.timezone) == (seconds, zone) and state.until >= horizon:
        return state.until  # up to date: no lock taken
    _lock(session, site_id)
    state = session.get(ReportRollupState, site_id, with_for_update=True, populate_existing=True)
    if state is not None and (state.seconds, state.timezone) != (seconds, zone):  # the site moved
        invalidate(session, site_id)
        state = None
    first_fill = state is None
    if state is None:
        first = session.scalar(select(func.min(Comment.created_at)).where(Comment.site_id == site_id))
        if first is None:
            session.commit()
            return horizon
        state = ReportRollupState(
            site_id=site_id, seconds=seconds, until=_floor(first, seconds), timezone=zone
        )
        try:
            with session.begin_nested():
                session.add(state)
        except IntegrityError:  # another request started this site's rollup at the same moment
            session.rollback()
            return _floor(first, seconds)
    whole = Scope(scope.site, scope.period, scope.settings)
    since = None if first_fill else state.until  # None: nothing was rolled up before
    while state.until < horizon:
        step = min(horizon, _step(session, site_id, state.until, seconds))
        cells = _cells(session, whole, state.until, step, seconds)
        cells += late(session, site_id, since, step, seconds)
        _add(session, site_id, _stored(cells, zone_of(zone)))
        state.until = since = step
        session.commit()
        if progress is not None:
            progress(step, horizon)
        if steps is not None:
            steps -= 1
        if step >= horizon or steps == 0:
            break
        _lock(session, site_id)  # the next step under the lock again: another fill may have gone on
        state = session.get(ReportRollupState, site_id, with_for_update=True, populate_existing=True)
        if state is None or (state.seconds, state.timezone) != (seconds, zone):
            session.commit()
            return step  # invalidated meanwhile: the next report starts again
        since = state.until
    until = state.until
    session.commit()
    return until


def _step(session: Session, site_id: int, since: datetime, seconds: int) -> datetime:
    """Where a fill step from ``since`` ends: after about ``FILL_STEP`` comments, and at least a
    day on (never, when fewer are left)."""
    nth = session.scalar(
        select(Comment.created_at)
        .where(Comment.site_id == site_id, Comment.created_at >= since)
        .order_by(Comment.created_at)
        .offset(FILL_STEP)
        .limit(1)
    )
    if nth is None:  # the rest fits in one step
        return datetime.max.replace(tzinfo=UTC)
    return max(since + timedelta(days=1), _floor(nth, seconds) + timedelta(seconds=seconds))


def fill_site(
    session: Session,
    site: Site,
    settings: Settings,
    progress: Callable[[datetime, datetime], None] | None = None,
) -> datetime:
    """``fill`` for a whole site (the worker's beat task and ``stet report rollup``)."""
    today = datetime.now(zone_of(site.timezone)).date()
    scope = Scope(site, Period(today, today, zone_of(site.timezone), "day"), settings)
    return fill(session, scope, progress=progress)


def invalidate(session: Session, site_id: int) -> None:
    """Forget a site's rolled-up counts, to be rolled up again from its first comment."""
    session.execute(delete(ReportRollup).where(ReportRollup.site_id == site_id))
    session.execute(delete(ReportRollupState).where(ReportRollupState.site_id == site_id))
    session.flush()


def forget(session: Session, site_id: int, comment_ids: Sequence[int]) -> None:
    """Take comments about to be deleted back out of the rollup: their arrival, scores and reasons
    (what people did with them, decisions and reports, stays counted: it happened)."""
    state = session.get(ReportRollupState, site_id)
    if state is None or not comment_ids:
        return
    cells = late(session, site_id, None, state.until, state.seconds, comments=comment_ids)
    cells += session.execute(
        select(
            Article.section,
            _at(state.seconds)(Comment.created_at),
            literal("received"),
            literal(""),
            func.count(),
        )
        .select_from(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.id.in_(comment_ids), Comment.created_at < state.until)
        .group_by(Article.section, "slot")
    ).all()
    cells = [(section, slot, measure, key, -value) for section, slot, measure, key, value in cells]
    _add(session, site_id, _stored(cells, zone_of(state.timezone)))


def _add(session: Session, site_id: int, rows: list[Cell]) -> None:
    """Add the rows' values to the stored ones (an upsert), so late moves land in any slot."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    stmt = insert(ReportRollup)
    stmt = stmt.on_conflict_do_update(
        index_elements=["site_id", "measure", "section", "slot", "key"],
        set_={"value": ReportRollup.value + stmt.excluded.value},
    )
    for at in range(0, len(rows), 5000):
        session.execute(
            stmt,
            [
                {"site_id": site_id, "section": sc, "slot": s, "measure": m, "key": k, "value": v}
                for sc, s, m, k, v in rows[at : at + 5000]
            ],
        )


def _lock(session: Session, site_id: int) -> None:
    """On SQLite, take the write lock before reading the state, so two fills run one after the
    other instead of the second failing on a stale snapshot (PostgreSQL locks the state row)."""
    if session.get_bind().dialect.name == "sqlite":
        table = cast(Table, ReportRollupState.__table__)  # declarative types it as any FromClause
        session.execute(
            table.update()
            .where(ReportRollupState.site_id == site_id)
            .values(seconds=ReportRollupState.seconds)
        )


def _stored(cells: list[Cell], zone: ZoneInfo) -> list[Cell]:
    """The rows to store: each cell counted for the whole site (section ``""``) and for its
    section, with the ``DAILY`` measures moved to the slot their local day starts in (a report
    covers whole local days, so their hours need not be kept: far fewer rows to read)."""
    days: dict[int, int] = {}

    def day(slot: int) -> int:
        if slot not in days:
            local = datetime.fromtimestamp(slot * SLOT_SECONDS, UTC).astimezone(zone)
            days[slot] = _slot(local_midnight(local.date(), zone))
        return days[slot]

    rows: list[Cell] = []
    for section, slot, measure, key, value in cells:
        slot = day(int(slot)) if measure in DAILY else int(slot)
        rows.append(("", slot, measure, key, value))
        if section:
            rows.append((section, slot, measure, key, value))
    return _merge(rows)
