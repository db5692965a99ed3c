"""Counts per time slot for the editor reports, rolled up once and read many times.

Event measures are keyed by when an event happened (a comment arrived, a decision was made, a
reader reported), never by a comment's current state, so a slot's counts are final once the slot
is over: a moderator deciding an old comment today is counted today. ``counts`` reads the site's
``ReportRollup`` rows for finished slots (filling the missing ones first, in one grouped query per
table) and computes the rest, up to now, from the base tables with the same queries. Every row
is kept twice: for the whole site (section ``""``) and for the article's section at the time, so
a section filter reads rolled-up rows too; an article filter is computed live (a few rows).
Slots are UTC hours, or quarter-hours for a zone whose offset is not a whole number of hours, so
the site's local hours and days are always whole slots. Measures that reports only sum over a
whole period (``DAILY``) are kept per local day of the site instead: far fewer rows to read.

Measures: ``received``; ``decision`` keyed ``by:status``; ``queue`` (comments entering the queue
minus those leaving it); ``reported``; ``wait`` keyed by whole minutes from a comment's arrival to
a moderator's decision out of the queue (so percentiles are exact to the minute, rounded down);
and per day ``moderator``, ``handling``, ``agreement`` and ``identity`` (see their functions).

Late measures (``LATE``) change after their slot, so a fill adds *moves*: each comment touched by
what was written in its window counts -1 with its standing before the window and +1 with its
standing after it, added (an upsert) to whatever slot it belongs to. ``score`` keyed
``label:bucket`` counts comments, by arrival, by their highest score per label in 0.01-wide
buckets (bucket k holds scores s with k/100 <= s < (k+1)/100, compared as the database compares
floats, so a threshold that is a multiple of 0.01 is counted exactly); ``reason`` counts comments,
by arrival, per reason code; ``simulation`` counts the model's decisions, by when they were made,
per toxicity bucket and the comment's status now (for the threshold simulator). A backlog scored
late, a ``stet rescore`` months on, or a moderator deciding an old comment is counted without
recomputing any slot. ``forget`` takes comments about to be deleted back out.

Events stamped before ``until`` but committed after a fill (an import of old history) are not
in the rollup: ``invalidate`` drops a site's rows, to be rolled up again (``stet report rollup
--rebuild``). The worker keeps every site filled (``worker.tasks.fill_report_rollups``, on beat),
so a page only ever computes the last hour live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, String, and_, case, cast, delete, func, literal, or_, select, true, union_all
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from service.config import Settings
from service.models import (
    Article,
    Comment,
    Decision,
    Reason,
    ReportRollup,
    ReportRollupState,
    Score,
    Site,
    Status,
    utcnow,
)
from service.models import Report as ReaderReport
from service.reporting.period import SLOT_SECONDS, Period, local_midnight, zone_of
from service.reporting.scope import Scope, epoch

FILL_STEP = 20_000  # a fill commits after about this many comments (and at least a day)
GRACE = timedelta(minutes=10)  # a slot is rolled up this long after it ends (late commits)
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
    horizon = _floor((now or utcnow()) - GRACE, seconds)
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
    ).all()  # type: ignore[arg-type]
    cells = [(section, slot, measure, key, -value) for section, slot, measure, key, value in cells]
    _add(session, site_id, _stored(cells, zone_of(state.timezone)))


def compute(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    seconds: int = SLOT_SECONDS,
    measures: Iterable[str] | None = None,
) -> list[Row]:
    """The event ``measures`` (all by default) per ``seconds``-long slot for the scope's events in
    [start, end), from the base tables: one grouped query per table."""
    return _rows(_cells(session, scope, start, end, seconds, measures))


def _cells(
    session: Session,
    scope: Scope,
    start: datetime,
    end: datetime,
    seconds: int = SLOT_SECONDS,
    measures: Iterable[str] | None = None,
) -> list[Cell]:
    """``compute`` per section."""
    at = _at(seconds)
    wanted = set(measures) if measures is not None else None

    def want(*names: str) -> bool:
        return wanted is None or not wanted.isdisjoint(names)

    rows: list[Cell] = []
    received = scope.comments(
        select(Article.section, at(Comment.created_at), literal("received"), literal(""), func.count())
        .select_from(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.created_at >= start, Comment.created_at < end)
    ).group_by(Article.section, "slot")
    reported = scope.articles(
        select(Article.section, at(ReaderReport.created_at), literal("reported"), literal(""), func.count())
        .select_from(ReaderReport)
        .join(Comment, Comment.id == ReaderReport.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            ReaderReport.site_id == scope.site.id,
            ReaderReport.created_at >= start,
            ReaderReport.created_at < end,
        ),
        Comment.article_id,
    ).group_by(Article.section, "slot")
    if want("received", "reported"):
        rows += [tuple(row) for row in session.execute(union_all(received, reported))]  # type: ignore[misc]

    wait = (epoch(Decision.created_at) - epoch(Comment.created_at)) // 60
    decisions = scope.comments(
        select(
            Article.section,
            at(Decision.created_at),
            Decision.by,
            Decision.status,
            Decision.from_status,
            func.count(),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(Decision.created_at >= start, Decision.created_at < end)
    ).group_by(Article.section, "slot", Decision.by, Decision.status, Decision.from_status)
    queue: dict[tuple[str | None, int], int] = {}
    for section, slot, by, status, from_status, count in (
        session.execute(decisions) if want("decision", "queue") else ()
    ):
        rows.append((section, slot, "decision", f"{by}:{status}", count))
        change = (status == Status.QUEUED.value) - (from_status == Status.QUEUED.value)
        if change:
            queue[(section, slot)] = queue.get((section, slot), 0) + change * count
    rows += [(section, slot, "queue", "", change) for (section, slot), change in queue.items() if change]
    minutes = wait.label("minutes")
    waits = scope.comments(
        select(Article.section, at(Decision.created_at), minutes, func.count())
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Decision.created_at >= start,
            Decision.created_at < end,
            Decision.by == "moderator",
            Decision.from_status == Status.QUEUED.value,
        )
    ).group_by(Article.section, "slot", "minutes")
    if want("wait"):
        rows += [(section, slot, "wait", str(m), n) for section, slot, m, n in session.execute(waits)]
    if want("moderator", "handling"):
        rows += _moderators(session, scope, start, end, seconds)
    if want("agreement"):
        rows += agreement(session, scope, start, end, seconds)
    if want("identity"):
        rows += _identity(session, scope, start, end, seconds)
    return _merge(rows)


def agreement(
    session: Session, scope: Scope, start: datetime, end: datetime, seconds: int, exact: bool = False
) -> list[Cell]:
    """``agreement`` keyed ``label:bucket:status:group`` per moderator approval or rejection of a
    scored comment: the bucket of the comment's highest score per label written before the
    decision (``exact``: the score itself, for thresholds off the buckets), and the group whose
    thresholds apply (``#`` and the article id when the article has its own thresholds, else
    ``s`` and its section)."""
    own = or_(Article.approve_below.is_not(None), Article.reject_above.is_not(None))
    group = case(
        (own, literal("#") + cast(Article.id, String)),
        else_=literal("s") + func.coalesce(Article.section, ""),
    ).label("grp")
    per = scope.comments(
        select(
            Article.section,
            _at(seconds)(Decision.created_at),
            Score.label,
            Decision.status,
            group,
            func.max(Score.value).label("value"),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .join(Score, and_(Score.comment_id == Decision.comment_id, Score.created_at <= Decision.created_at))
        .where(
            Decision.by == "moderator",
            Decision.status.in_(VERDICTS),
            Decision.created_at >= start,
            Decision.created_at < end,
        )
        .group_by(Decision.id, Decision.created_at, Score.label, Decision.status, Article.section, group)
    ).subquery()
    bucket = (per.c.value if exact else _bucket(per.c.value)).label("bucket")
    grouped = select(
        per.c.section, per.c.slot, per.c.label, bucket, per.c.status, per.c.grp, func.count()
    ).group_by(per.c.section, per.c.slot, per.c.label, "bucket", per.c.status, per.c.grp)
    return [
        (section, slot, "agreement", f"{label}:{b}:{status}:{grp}", n)
        for section, slot, label, b, status, grp, n in session.execute(grouped)
    ]


def _identity(session: Session, scope: Scope, start: datetime, end: datetime, seconds: int) -> list[Cell]:
    """``identity`` keyed ``mentions:by:status``: the model's decisions, the moderators'
    approvals and rejections of comments the model held (queued or rejected), and comments
    received (``mentions:received:``), by whether the comment mentions an identity group."""
    person = and_(Decision.by == "moderator", Decision.from_status.in_(HELD), Decision.status.in_(VERDICTS))
    grouped = scope.comments(
        select(
            Article.section,
            _at(seconds)(Decision.created_at),
            Comment.mentions_identity,
            Decision.by,
            Decision.status,
            func.count(),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Decision.created_at >= start,
            Decision.created_at < end,
            or_(Decision.by == "auto", person),
        )
    ).group_by(Article.section, "slot", Comment.mentions_identity, Decision.by, Decision.status)
    received = scope.comments(
        select(
            Article.section,
            _at(seconds)(Comment.created_at),
            Comment.mentions_identity,
            literal("received"),
            literal(""),
            func.count(),
        )
        .select_from(Comment)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.created_at >= start, Comment.created_at < end)
    ).group_by(Article.section, "slot", Comment.mentions_identity)
    return [
        (section, slot, "identity", f"{int(bool(mentions))}:{by}:{status}", n)
        for section, slot, mentions, by, status, n in session.execute(union_all(grouped, received))
    ]


LEAN_REJECT = 0.5  # the model leans to reject a comment it queued when its risk is at least this


def _moderators(session: Session, scope: Scope, start: datetime, end: datetime, seconds: int) -> list[Cell]:
    """``moderator`` keyed ``user:status:overturned`` per decision, and ``handling`` keyed
    ``user:seconds`` for each decision's gap since the same moderator's previous decision on the
    site when under ``SESSION_GAP`` (so medians are exact to the second).

    The model's lean on a comment is its own decision when it made one (the decision came from
    approved or rejected), otherwise reject when the comment's risk is at least ``LEAN_REJECT``; a
    moderator decision against that lean is an overturn."""
    lean = case(
        (Decision.from_status.in_([Status.APPROVED.value, Status.REJECTED.value]), Decision.from_status),
        (Comment.risk >= LEAN_REJECT, Status.REJECTED.value),
        else_=Status.APPROVED.value,
    )
    previous = func.lag(Decision.created_at).over(
        partition_by=Decision.user_id, order_by=(Decision.created_at, Decision.id)
    )
    decided = (
        select(
            _at(seconds)(Decision.created_at),
            Decision.created_at,
            Decision.user_id,
            Decision.status,
            Comment.article_id,
            Article.section,
            case((Decision.status != lean, 1), else_=0).label("overturned"),
            (epoch(Decision.created_at) - epoch(previous)).label("gap"),
        )
        .select_from(Decision)
        .join(Comment, Comment.id == Decision.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(
            Comment.site_id == scope.site.id,
            Decision.by == "moderator",
            Decision.created_at >= start - timedelta(seconds=SESSION_GAP),
            Decision.created_at < end,
        )
    ).subquery()
    mine = scope.articles(select(decided), decided.c.article_id).where(decided.c.created_at >= start)
    mine = mine.subquery()
    rows: list[Cell] = [
        (section, slot, "moderator", f"{user}:{status}:{overturned}", n)
        for section, slot, user, status, overturned, n in session.execute(
            select(
                mine.c.section, mine.c.slot, mine.c.user_id, mine.c.status, mine.c.overturned, func.count()
            ).group_by(mine.c.section, mine.c.slot, mine.c.user_id, mine.c.status, mine.c.overturned)
        )
    ]
    rows += [
        (section, slot, "handling", f"{user}:{gap}", n)
        for section, slot, user, gap, n in session.execute(
            select(mine.c.section, mine.c.slot, mine.c.user_id, mine.c.gap, func.count())
            .where(mine.c.gap < SESSION_GAP)
            .group_by(mine.c.section, mine.c.slot, mine.c.user_id, mine.c.gap)
        )
    ]
    return rows


def late(
    session: Session,
    site_id: int,
    since: datetime | None,
    until: datetime | None,
    seconds: int,
    measures: Iterable[str] = LATE,
    comments: Sequence[int] | None = None,
) -> list[Cell]:
    """The moves of late measures for scores and reasons written in [since, until) (either end
    open when None), or, given ``comments``, for those comments' whole history before ``until``:
    each touched comment's standing as of ``until`` minus its standing as of ``since``."""
    rows: list[Cell] = []
    for measure in ("score", "reason", "simulation"):
        if measure not in measures:
            continue
        standing = _simulation if measure == "simulation" else _standing
        touched: Any = comments
        if touched is None and since is not None:
            written = [
                select(model.comment_id).where(
                    model.created_at >= since, *([model.created_at < until] if until is not None else [])
                )
                for model in _CHANGED_BY[measure]
            ]
            touched = union_all(*written) if len(written) > 1 else written[0]
        rows += standing(session, site_id, measure, touched, until, seconds, 1)
        if since is not None:
            rows += standing(session, site_id, measure, touched, since, seconds, -1)
    return rows


_CHANGED_BY: dict[str, tuple[Any, ...]] = {
    "score": (Score,),
    "reason": (Reason,),
    "simulation": (Decision, Score),
}


def _simulation(
    session: Session,
    site_id: int,
    measure: str,
    touched: Any,
    before: datetime | None,
    seconds: int,
    sign: int,
) -> list[Cell]:
    """``simulation`` keyed ``auto:category:bucket:now`` per model decision made before
    ``before`` (everything when None), in the slot of that decision: what the model decided and
    why (its ``category``), the bucket of the comment's highest toxicity score written before
    ``before``, and the comment's status as of then (its latest decision's)."""
    auto, latest, toxicity = aliased(Decision), aliased(Decision), aliased(Score)
    written = [] if before is None else [latest.created_at < before]
    now = (
        select(latest.status)
        .where(latest.comment_id == auto.comment_id, *written)
        .order_by(latest.created_at.desc(), latest.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    scored = [] if before is None else [toxicity.created_at < before]
    # Grouped per decision (so the database computes the highest score once, not per use).
    category = auto.details["category"].as_string()
    per = (
        select(
            Article.section,
            _at(seconds)(auto.created_at),
            auto.status.label("auto"),
            category.label("category"),
            func.max(toxicity.value).label("value"),
            now.label("now"),
        )
        .select_from(auto)
        .join(Comment, Comment.id == auto.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .join(
            toxicity,
            and_(toxicity.comment_id == auto.comment_id, toxicity.label == "toxicity", *scored),
        )
        .where(Comment.site_id == site_id, auto.by == "auto")
        .group_by(auto.id, auto.comment_id, auto.created_at, auto.status, category, Article.section)
    )
    if before is not None:
        per = per.where(auto.created_at < before)
    if touched is not None:
        per = per.where(auto.comment_id.in_(touched))
    per = per.subquery()
    grouped = select(
        per.c.section,
        per.c.slot,
        per.c.auto,
        per.c.category,
        _bucket(per.c.value).label("bucket"),
        per.c.now,
        func.count(),
    ).group_by(per.c.section, per.c.slot, per.c.auto, per.c.category, "bucket", per.c.now)
    return [
        (section, slot, measure, f"{auto_status}:{category}:{bucket}:{status}", sign * n)
        for section, slot, auto_status, category, bucket, status, n in session.execute(grouped)
    ]


def _standing(
    session: Session,
    site_id: int,
    measure: str,
    touched: Any,
    before: datetime | None,
    seconds: int,
    sign: int,
) -> list[Row]:
    """How the ``touched`` comments (ids, a subquery of ids, or None for all) counted with what
    was written before ``before`` (everything when None): per label, the bucket of a comment's
    highest score; per reason code, the comment once."""
    model = Score if measure == "score" else Reason
    key = (Score.label if measure == "score" else Reason.code).label("key")
    written = model.created_at < before if before is not None else true()
    per = (
        select(
            Article.section,
            _at(seconds)(Comment.created_at),
            key,
            (func.max(case((written, Score.value))) if measure == "score" else literal(0)).label("value"),
        )
        .select_from(model)
        .join(Comment, Comment.id == model.comment_id)
        .join(Article, Article.id == Comment.article_id)
        .where(Comment.site_id == site_id)
        .group_by(model.comment_id, key, Comment.created_at, Article.section)
        .having(func.max(case((written, 1))) == 1)
    )
    if touched is not None:
        per = per.where(model.comment_id.in_(touched))
    if before is not None:  # what was written later cannot count (lets the index bound the scan)
        per = per.where(model.created_at < before)
    per = per.subquery()
    bucket = _bucket(per.c.value) if measure == "score" else per.c.value
    grouped = select(per.c.section, per.c.slot, per.c.key, bucket.label("bucket"), func.count()).group_by(
        per.c.section, per.c.slot, per.c.key, "bucket"
    )
    return [
        (section, slot, measure, f"{k}:{b}" if measure == "score" else k, sign * n)
        for section, slot, k, b, n in session.execute(grouped)
    ]


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
        session.execute(
            ReportRollupState.__table__.update()
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
