"""What a report is about (a site, optionally one section or article, over a period) and the SQL
pieces every report shares: filters, and times as integer seconds on SQLite and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import BigInteger, ColumnElement, Select, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from service import policy
from service.config import Settings
from service.models import Article, Comment, Site
from service.moderation import thresholds_for
from service.reporting.period import SLOT_SECONDS, Period

_Ts = TypeVarTuple("_Ts")  # a statement's column types, kept through the filters below


class epoch(FunctionElement[int]):
    """A UTC timestamp column as whole seconds since 1970 (an index-friendly integer to group on)."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor(extract(epoch from {compiler.process(element.clauses, **kw)})) AS BIGINT)"


def slot(column: Any) -> ColumnElement[int]:
    """The UTC quarter-hour a timestamp falls in (``period.Period.fold`` turns these into buckets)."""
    return (epoch(column) // SLOT_SECONDS).label("slot")


@dataclass(frozen=True)
class Scope:
    """A site's comments in a period, optionally narrowed to one section or one article."""

    site: Site
    period: Period
    settings: Settings
    section: str | None = None
    article: Article | None = None

    @property
    def thresholds(self) -> policy.Thresholds:
        return thresholds_for(self.site, self.settings, self.article)

    def comments(self, stmt: Select[*_Ts], column: Any = Comment.article_id) -> Select[*_Ts]:
        """``stmt`` narrowed to this site's comments (``column`` is the article id to filter on)."""
        stmt = stmt.where(Comment.site_id == self.site.id)
        return self.articles(stmt, column)

    def articles(self, stmt: Select[*_Ts], column: Any) -> Select[*_Ts]:
        """``stmt`` narrowed by section or article through an article-id ``column``."""
        if self.article is not None:
            stmt = stmt.where(column == self.article.id)
        elif self.section is not None:
            in_section = (
                select(Article.id)
                .where(Article.site_id == self.site.id, Article.section == self.section)
                .correlate(None)  # a list of ids, even in a query that joins articles itself
            )
            stmt = stmt.where(column.in_(in_section))
        return stmt

    def during(self, stmt: Select[*_Ts], column: Any) -> Select[*_Ts]:
        return stmt.where(column >= self.period.start, column < self.period.end)

    def sections(self, session: Session) -> list[str]:
        return list(
            session.scalars(
                select(Article.section)
                .where(Article.site_id == self.site.id, Article.section.is_not(None))
                .distinct()
                .order_by(Article.section)
            )
        )
