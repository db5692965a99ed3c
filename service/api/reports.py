"""Editor reports as JSON for a newsroom's own BI: ``GET /api/v1/reports/<name>``, for the key's site.

Arguments: ``range`` (today, 7d, 30d) or ``from``/``to`` (local dates, inclusive), ``bucket``
(hour, day, week), ``section``, ``article`` (the site's article id); the model report also takes
``approve_below``/``reject_above`` and ``<attribute>_queue_at``/``<attribute>_reject_at`` (threat,
identity_attack, severe_toxicity, sexual_explicit) for its threshold simulator. The moderators report is for
dashboard admins only and is not served here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from service import reporting
from service.api.auth import current_site
from service.api.errors import APIError
from service.api.openapi import documented
from service.reporting.period import PeriodError
from service.web import get_session

bp = Blueprint("reports", __name__)
PUBLIC = [name for name in reporting.REPORTS if name not in reporting.ADMIN_ONLY]
Cell = str | int | float | None


class EditorReportQuery(BaseModel):
    """Free-form strings: the view says which value is wrong (422) rather than a schema."""

    model_config = ConfigDict(populate_by_name=True)
    range: str | None = Field(None, description="today, 7d or 30d (default 7d)")
    from_: str | None = Field(None, alias="from", description="first local day, YYYY-MM-DD")
    to: str | None = Field(None, description="last local day, YYYY-MM-DD (inclusive)")
    bucket: str | None = Field(None, description="hour, day or week")
    section: str | None = None
    article: str | None = Field(None, description="the site's article id")
    approve_below: str | None = Field(None, description="model report: simulated threshold, 0..1")
    reject_above: str | None = Field(None, description="model report: simulated threshold, 0..1")
    threat_queue_at: str | None = Field(None, description="model report: simulated queue_at")
    threat_reject_at: str | None = Field(None, description="model report: simulated reject_at")
    identity_attack_queue_at: str | None = Field(None, description="model report: simulated queue_at")
    identity_attack_reject_at: str | None = Field(None, description="model report: simulated reject_at")
    severe_toxicity_queue_at: str | None = Field(None, description="model report: simulated queue_at")
    severe_toxicity_reject_at: str | None = Field(None, description="model report: simulated reject_at")
    sexual_explicit_queue_at: str | None = Field(None, description="model report: simulated queue_at")
    sexual_explicit_reject_at: str | None = Field(None, description="model report: simulated reject_at")


class EditorReportsOut(BaseModel):
    reports: list[str]


class ReportTableOut(BaseModel):
    title: str
    columns: list[str]
    rows: list[list[Cell]]


class EditorReportOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    site: str
    zone: str
    from_: str = Field(alias="from")
    to: str
    bucket: str
    section: str | None
    article: str | None
    report: str
    title: str
    figures: dict[str, Cell]
    tables: dict[str, ReportTableOut]


@bp.get("/reports")
@documented(answer=EditorReportsOut, tags=["reports"])
def index():
    """The reports this API serves (the moderators report is for dashboard admins only)."""
    current_site()
    return jsonify({"reports": PUBLIC})


@bp.get("/reports/<name>")
@documented(answer=EditorReportOut, query=EditorReportQuery, errors=(404, 422), tags=["reports"])
def show(name: str) -> Any:
    """One report as JSON: headline figures and every table (the numbers behind the dashboard)."""
    site = current_site()
    if name not in PUBLIC:
        raise APIError(404, "not_found", f"no report {name!r}; reports: {', '.join(PUBLIC)}")
    session = get_session()
    try:
        scope = reporting.scope_from(session, site, current_app.config["STET_SETTINGS"], request.args)
        options = reporting.simulator_options(request.args, scope.thresholds) if name == "model" else {}
    except PeriodError as exc:
        raise APIError(422, "validation_error", str(exc), field=exc.field) from None
    report = reporting.build(name, session, scope, **options)
    period = scope.period
    return jsonify(
        {
            "site": site.name,
            "zone": period.zone.key,
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "bucket": period.bucket,
            "section": scope.section,
            "article": scope.article.external_id if scope.article else None,
            **report.as_json(),
        }
    )
