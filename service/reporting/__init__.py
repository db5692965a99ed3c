"""Reports for editors: SQL aggregates over the store, one module per report.

Every report is ``build(session, scope) -> result.EditorReport``; the dashboard, the CSV export, the
JSON API and the weekly digest all render the same ``EditorReport`` (a ``models.Report`` is a
reader's flag on a comment). ``scope_from`` turns request
arguments (range or from/to, bucket, section, article) into a ``Scope`` for one site.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.models import Article, Comment, Site, utcnow
from service.policy import DANGEROUS, Thresholds, merge_rules
from service.reporting import articles, model, moderation, moderators, queue, readers, volume
from service.reporting.period import PeriodError, parse_period, zone_of
from service.reporting.result import EditorReport
from service.reporting.scope import Scope

REPORTS: dict[str, tuple[str, Callable[..., EditorReport]]] = {
    "volume": ("Volume", volume.build),
    "moderation": ("Toxicity and spam", moderation.build),
    "queue": ("The queue", queue.build),
    "articles": ("Articles", articles.build),
    "moderators": ("Moderators", moderators.build),
    "readers": ("Readers", readers.build),
    "model": ("Model against moderators", model.build),
}
ADMIN_ONLY = frozenset({"moderators"})


def busiest_site(session: Session, sites: Sequence[Site]) -> Site | None:
    """Of ``sites``, the one with the most comments in the last 30 days (or ever, if none came
    lately): reports open on it, not on the first name in the alphabet."""
    most = select(Comment.site_id).group_by(Comment.site_id).order_by(func.count().desc(), Comment.site_id)
    top = session.scalar(most.where(Comment.created_at >= utcnow() - timedelta(days=30)).limit(1))
    top = top if top is not None else session.scalar(most.limit(1))
    return next((s for s in sites if s.id == top), sites[0] if sites else None)


def scope_from(session: Session, site: Site, settings: Settings, args: Mapping[str, str]) -> Scope:
    """The scope asked for by ``args``; raises PeriodError (with the offending field) on bad input."""
    period = parse_period(args, zone_of(site.timezone))
    for name in ("section", "article"):
        if "\x00" in (args.get(name) or ""):
            raise PeriodError(f"{name} must not contain NUL characters", name)
    article = None
    if external_id := (args.get("article") or "").strip():
        article = session.scalar(
            select(Article).where(Article.site_id == site.id, Article.external_id == external_id)
        )
        if article is None:
            raise PeriodError(f"no article {external_id!r} on this site", "article")
    return Scope(site, period, settings, section=(args.get("section") or "").strip() or None, article=article)


def build(name: str, session: Session, scope: Scope, **options: Any) -> EditorReport:
    return REPORTS[name][1](session, scope, **options)


def simulator_options(args: Mapping[str, str], thresholds: Thresholds) -> dict[str, Any]:
    """The threshold simulator's inputs: ``approve_below``/``reject_above`` as floats in 0..1, and
    ``attributes``, each dangerous attribute whose ``<label>_queue_at`` or ``<label>_reject_at`` was
    given, as its rule in ``thresholds`` with those laid over it (absent inputs are left out)."""
    options: dict[str, Any] = {}
    changed: dict[str, dict[str, float]] = {}
    fields: list[tuple[str, str, str]] = [(name, "", "") for name in ("approve_below", "reject_above")] + [
        (f"{label}_{part}", label, part) for label in DANGEROUS for part in ("queue_at", "reject_at")
    ]
    for name, label, part in fields:
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            raise PeriodError(f"{name} must be a number between 0 and 1", name) from None
        if not 0.0 <= value <= 1.0:
            raise PeriodError(f"{name} must be a number between 0 and 1", name)
        if not label:
            options[name] = value
        else:
            changed.setdefault(label, {})[part] = value
    if changed:
        merged = {}
        for label, parts in changed.items():
            try:
                merged[label] = merge_rules(thresholds.attributes, {label: parts})[label]
            except ValueError as exc:
                raise PeriodError(str(exc), f"{label}_{next(iter(parts))}") from None
        options["attributes"] = merged
    return options
