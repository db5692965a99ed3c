"""Which comments each queue holds, filtered and in order, a page at a time.

Pages are keyset pages: the cursor is the last row's sort key, so the hundredth page of a
100,000-comment queue costs what the first does (on ix_comments_status_risk_id and
ix_comments_status_id). Risk order is highest first; comments without a risk come last.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from service import language
from service.models import Article, Author, Comment, Score, Site, Status
from service.moderation import decided_by
from service.policy import ATTRIBUTES

PAGE_SIZE = 25
# Counts above this show as "10,000+": counting every row of a huge queue on each poll is waste.
COUNT_CAP = 10_000
# A label filter keeps comments that this label scored at least this high.
LABEL_AT_LEAST = 0.5
LABELS = (*ATTRIBUTES, "spam")


class Queue(enum.StrEnum):
    REVIEW = "review"
    REPORTED = "reported"
    AUTO_REJECTED = "auto-rejected"
    APPROVED = "approved"
    REJECTED = "rejected"
    ALL = "all"

    @property
    def title(self) -> str:  # type: ignore[override]  # the queue's heading; shadows str.title on purpose
        special = {"review": "Needs review", "auto-rejected": "Auto-rejected"}
        return special.get(self.value, self.value.title())


class Sort(enum.StrEnum):
    RISK = "risk"
    OLDEST = "oldest"
    NEWEST = "newest"


class FilterError(ValueError):
    """A filter value the queue cannot use; the message names the field."""


def in_queue(queue: Queue) -> ColumnElement[bool]:
    """The condition a comment meets to be in ``queue``."""
    if queue == Queue.REVIEW:
        return Comment.status == Status.QUEUED.value
    if queue == Queue.REPORTED:
        return Comment.reported_at.is_not(None)
    if queue == Queue.AUTO_REJECTED:
        return and_(Comment.status == Status.REJECTED.value, decided_by(Comment.id) == "auto")
    if queue == Queue.ALL:
        return Comment.status != Status.PENDING.value
    return Comment.status == queue.value


@dataclass(frozen=True)
class Filters:
    """What the moderator narrowed the queue to; every field is optional."""

    site: int | None = None
    article: str = ""
    author: str = ""
    label: str = ""
    language: str = ""  # ISO 639-1; a comment too short to tell counts as its site's language
    min_risk: float | None = None
    max_risk: float | None = None
    since: date | None = None
    until: date | None = None
    q: str = ""
    sort: Sort = Sort.RISK
    # The zone ``since`` and ``until`` are days of: not from the query string; the view sets the
    # site's when the page shows one site.
    zone: str = "UTC"

    @classmethod
    def parse(cls, args: Any) -> Filters:
        """Filters from a query string; FilterError names the first unusable field."""
        values: dict[str, Any] = {}
        raw_site = (args.get("site") or "").strip()
        if raw_site and not raw_site.isdigit():
            raise FilterError("site: one of the sites you moderate")
        values["site"] = int(raw_site) if raw_site else None
        for name in ("article", "author", "q"):
            values[name] = (args.get(name) or "").strip()[:200]
        label = (args.get("label") or "").strip()
        if label and label not in LABELS:
            raise FilterError(f"label: choose one of {', '.join(LABELS)}")
        values["label"] = label
        raw = (args.get("language") or "").strip()
        code = language.primary(raw) if raw else ""
        if code is None:
            raise FilterError("language: a code such as en, de or fr")
        values["language"] = code
        for name in ("min_risk", "max_risk"):
            raw = (args.get(name) or "").strip()
            try:
                values[name] = float(raw) if raw else None
            except ValueError:
                raise FilterError(f"{name.replace('_', ' ')}: a number between 0 and 1") from None
            if values[name] is not None and not 0.0 <= values[name] <= 1.0:
                raise FilterError(f"{name.replace('_', ' ')}: a number between 0 and 1")
        for name in ("since", "until"):
            raw = (args.get(name) or "").strip()
            try:
                values[name] = date.fromisoformat(raw) if raw else None
            except ValueError:
                raise FilterError(f"{name}: a date as YYYY-MM-DD") from None
        try:
            values["sort"] = Sort(args.get("sort") or Sort.RISK.value)
        except ValueError:
            raise FilterError("sort: risk, oldest or newest") from None
        return cls(**values)

    def query_args(self) -> dict[str, str]:
        """The filters as query-string arguments (empty ones left out), for links and next pages."""
        args = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "zone":
                continue
            if value not in (None, "") and not (field.name == "sort" and value == Sort.RISK):
                args[field.name] = str(value)
        return args

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.site is not None:
            found.append(Comment.site_id == self.site)
        if self.article:
            title = Article.title.icontains(self.article, autoescape=True)
            found.append(
                Comment.article_id.in_(
                    select(Article.id).where(or_(Article.external_id == self.article, title))
                )
            )
        if self.author:
            name = Author.name.icontains(self.author, autoescape=True)
            found.append(
                Comment.author_id.in_(select(Author.id).where(or_(Author.external_id == self.author, name)))
            )
        if self.label:
            scored = select(Score.id).where(
                Score.comment_id == Comment.id, Score.label == self.label, Score.value >= LABEL_AT_LEAST
            )
            found.append(exists(scored))
        if self.language:
            site_speaks = Comment.site_id.in_(select(Site.id).where(Site.language == self.language))
            found.append(
                or_(Comment.language == self.language, and_(Comment.language.is_(None), site_speaks))
            )
        if self.min_risk is not None:
            found.append(Comment.risk >= self.min_risk)
        if self.max_risk is not None:
            found.append(Comment.risk <= self.max_risk)
        zone = ZoneInfo(self.zone)
        if self.since is not None:
            found.append(Comment.created_at >= datetime.combine(self.since, time(), zone).astimezone(UTC))
        if self.until is not None:
            end = datetime.combine(self.until + timedelta(days=1), time(), zone).astimezone(UTC)
            found.append(Comment.created_at < end)
        if self.q:
            found.append(Comment.body.icontains(self.q, autoescape=True))
        return found


@dataclass(frozen=True)
class Page:
    ids: list[int]
    cursor: str | None  # where the next page starts; None on the last page


def _ids(session: Session, query: Select[int, float | None], limit: int) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.execute(query.limit(limit))]


def in_sites(sites: Collection[int] | None) -> list[ColumnElement[bool]]:
    """The condition that keeps a moderator to their sites (``accounts.sites_of``; None: all)."""
    return [] if sites is None else [Comment.site_id.in_(sorted(sites))]


def page(
    session: Session,
    queue: Queue,
    filters: Filters,
    cursor: str | None = None,
    size: int = PAGE_SIZE,
    sites: Collection[int] | None = None,
) -> Page:
    """One page of ``queue`` after ``cursor``, within ``sites``; FilterError for a cursor this queue
    did not hand out."""
    base = select(Comment.id, Comment.risk).where(in_queue(queue), *in_sites(sites), *filters.conditions())
    kind, _, rest = (cursor or "").partition(":")
    try:
        if cursor and kind not in (("r", "n") if filters.sort == Sort.RISK else ("i",)):
            raise ValueError(kind)
        if filters.sort != Sort.RISK:
            newest = filters.sort == Sort.NEWEST
            query = base.order_by(Comment.id.desc() if newest else Comment.id)
            if cursor:
                after_id = int(rest)
                query = query.where(Comment.id < after_id if newest else Comment.id > after_id)
            rows = _ids(session, query, size + 1)
            more = len(rows) > size
            rows = rows[:size]
            return Page([r[0] for r in rows], f"i:{rows[-1][0]}" if more else None)
        rows = []
        if kind in ("", "r"):  # comments with a risk, highest first
            query = base.where(Comment.risk.is_not(None)).order_by(Comment.risk.desc(), Comment.id.desc())
            if kind == "r":
                risk, _, last_id = rest.partition(":")
                query = query.where(tuple_(Comment.risk, Comment.id) < (float(risk), int(last_id)))
            rows = _ids(session, query, size + 1)
        if len(rows) <= size:  # then those without one, newest first
            query = base.where(Comment.risk.is_(None)).order_by(Comment.id.desc())
            if kind == "n":
                query = query.where(Comment.id < int(rest))
            rows += _ids(session, query, size + 1 - len(rows))
    except ValueError:
        raise FilterError("cursor: not one this queue handed out; start again from the first page") from None
    more = len(rows) > size
    rows = rows[:size]
    if not more:
        return Page([r[0] for r in rows], None)
    last_id, last_risk = rows[-1]
    after = f"r:{last_risk!r}:{last_id}" if last_risk is not None else f"n:{last_id}"
    return Page([r[0] for r in rows], after)


def settled_id(session: Session) -> int:
    """The id below which every comment has had its automatic decision (one less than the oldest
    comment still pending, else the newest id): a page drawn now has seen whatever of those its queue
    holds, and asks ``arrivals`` for the rest later."""
    pending = Comment.status == Status.PENDING.value
    oldest_pending = session.scalar(select(func.min(Comment.id)).where(pending))
    if oldest_pending is not None:
        return oldest_pending - 1
    return session.scalar(select(func.max(Comment.id))) or 0


def arrivals(
    session: Session,
    queue: Queue,
    filters: Filters,
    after_id: int,
    sites: Collection[int] | None = None,
    limit: int = PAGE_SIZE,
) -> list[int]:
    """Ids of comments after ``after_id`` (a ``settled_id``) that are now in ``queue`` within
    ``filters`` and ``sites``, newest first: what a page drawn back then may not show yet."""
    query = select(Comment.id).where(Comment.id > after_id, in_queue(queue), *in_sites(sites))
    return list(session.scalars(query.where(*filters.conditions()).order_by(Comment.id.desc()).limit(limit)))


def counts(session: Session, sites: Collection[int] | None = None) -> dict[Queue, int]:
    """How many comments each queue holds within ``sites``, up to COUNT_CAP (a larger queue shows as
    COUNT_CAP)."""
    found = {}
    for queue in Queue:
        capped = select(Comment.id).where(in_queue(queue), *in_sites(sites)).limit(COUNT_CAP).subquery()
        found[queue] = session.scalar(select(func.count()).select_from(capped)) or 0
    return found
