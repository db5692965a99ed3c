"""Editor reports as JSON for a newsroom's own BI: ``GET /api/v1/reports/<name>``, for the key's site.

Arguments: ``range`` (today, 7d, 30d) or ``from``/``to`` (local dates, inclusive), ``bucket``
(hour, day, week), ``section``, ``article`` (the site's article id); the model report also takes
``approve_below``/``reject_above`` for its threshold simulator. The moderators report is for
dashboard admins only and is not served here.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from service import reporting
from service.api.auth import current_site
from service.api.errors import APIError
from service.db import get_session
from service.reporting.period import PeriodError

bp = Blueprint("reports", __name__)
PUBLIC = [name for name in reporting.REPORTS if name not in reporting.ADMIN_ONLY]


@bp.get("/reports")
def index():
    current_site()
    return jsonify({"reports": PUBLIC})


@bp.get("/reports/<name>")
def show(name: str):
    site = current_site()
    if name not in PUBLIC:
        raise APIError(404, "not_found", f"no report {name!r}; reports: {', '.join(PUBLIC)}")
    session = get_session()
    try:
        scope = reporting.scope_from(session, site, current_app.config["STET_SETTINGS"], request.args)
        options = reporting.simulator_options(request.args) if name == "model" else {}
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
