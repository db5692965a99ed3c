"""Reports for editors and admins: charts, tables and CSV of what happens in the comments."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user
from sqlalchemy import select

from dashboard import charts
from dashboard.auth import roles_required
from service import reporting
from service.models import Role, Site
from service.policy import DANGEROUS
from service.reporting.period import PRESETS, PeriodError
from service.web import get_session

bp = Blueprint("reports", __name__, url_prefix="/reports")
FILTERS = ("site", "range", "from", "to", "bucket", "section", "article")


@bp.app_template_filter("report_cell")
def report_cell(value: object, percent: bool = False) -> str:
    """A table cell or figure as people read it: 12.5%, 1,204, 0.35, or a dash for no value."""
    if value is None:
        return "–"
    if percent and isinstance(value, int | float):
        return f"{value:.1%}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")


def visible() -> list[str]:
    """The reports this user may open (moderator statistics are for admins only)."""
    return [
        n for n in reporting.REPORTS if current_user.role == Role.ADMIN.value or n not in reporting.ADMIN_ONLY
    ]


def prepare(name: str):  # type: ignore[no-untyped-def]
    """The chosen site, the scope asked for and the report, or an error message for the form."""
    if name not in reporting.REPORTS:
        abort(404)
    if name not in visible():
        abort(403)
    session = get_session()
    sites = list(session.scalars(select(Site).order_by(Site.name)))
    chosen = next((s for s in sites if str(s.id) == request.args.get("site")), None)
    site = chosen or reporting.busiest_site(session, sites)
    context = {
        "name": name,
        "reports": visible(),
        "titles": reporting.REPORTS,
        "sites": sites,
        "site": site,
        "args": request.args,
        "query": {k: request.args[k] for k in FILTERS if request.args.get(k)},
        "presets": PRESETS,
        "report": None,
        "error": None,
        "scope": None,
        "dangerous": DANGEROUS,
    }
    if site is None:
        context["error"] = "There is no site yet: create one with `stet site create NAME`."
        return context
    try:
        scope = reporting.scope_from(session, site, current_app.config["STET_SETTINGS"], request.args)
        options = reporting.simulator_options(request.args, scope.thresholds) if name == "model" else {}
    except PeriodError as exc:
        context["error"] = str(exc)
        return context
    context.update(
        scope=scope, sections=scope.sections(session), report=reporting.build(name, session, scope, **options)
    )
    return context


@bp.get("/")
@roles_required(Role.EDITOR, Role.ADMIN)
def index():
    return show("volume")


@bp.get("/<name>")
@roles_required(Role.EDITOR, Role.ADMIN)
def show(name: str):
    context = prepare(name)
    status = 400 if context["error"] and context["site"] else 200
    if request.htmx and request.args.get("part") == "simulation" and context["report"]:
        return render_template(
            "dashboard/reports/_table.html", table=context["report"].table("simulation"), **context
        ), status
    drawn = {}
    if context["report"]:
        drawn = {
            c.table: (c, charts.render(c, context["report"].table(c.table))) for c in context["report"].charts
        }
    return render_template("dashboard/reports/report.html", charts=drawn, **context), status


@bp.get("/<name>.csv")
@roles_required(Role.EDITOR, Role.ADMIN)
def export(name: str):
    context = prepare(name)
    if context["error"]:
        return Response(context["error"] + "\n", status=400, mimetype="text/plain")
    report = context["report"]
    wanted = request.args.get("table") or report.tables[0].name
    table = next((t for t in report.tables if t.name == wanted), None)
    if table is None:
        abort(404)
    filename = f"stet-{name}-{table.name}-{context['scope'].period.first}-{context['scope'].period.last}.csv"
    return Response(
        table.csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
