"""The audit log for admins: who changed what, when, before → after; filtered, newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, make_response, render_template, request, url_for
from sqlalchemy import select

from dashboard.auth import roles_required
from service.models import AuditEntry, Role
from service.web import get_session

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50
FILTERS = ("actor", "action", "target", "day")


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    args = {name: (request.args.get(name) or "").strip()[:200] for name in FILTERS}
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    error = None
    if args["actor"]:
        query = query.where(AuditEntry.actor == args["actor"])
    if args["action"]:
        query = query.where(AuditEntry.action.startswith(args["action"], autoescape=True))
    if args["target"]:  # "comment:12", or just a type
        kind, _, target_id = args["target"].partition(":")
        query = query.where(AuditEntry.target_type == kind)
        if target_id:
            query = query.where(AuditEntry.target_id == target_id)
    if args["day"]:
        try:
            start = datetime.combine(date.fromisoformat(args["day"]), time(), UTC)
            query = query.where(
                AuditEntry.created_at >= start, AuditEntry.created_at < start + timedelta(days=1)
            )
        except ValueError:
            error = "Day: a date as YYYY-MM-DD."
    before = request.args.get("before", "")
    if before.isdigit():
        query = query.where(AuditEntry.id < int(before))
    entries = get_session().scalars(query.limit(PAGE_SIZE + 1)).all() if error is None else []
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    filled = {k: v for k, v in args.items() if v}
    next_url = url_for(".index", before=entries[-1].id, **filled) if more else None
    template = "dashboard/admin/_audit_rows.html" if request.htmx and before else "dashboard/admin/audit.html"
    page = render_template(template, entries=entries, args=args, next_url=next_url, error=error)
    response = make_response(page, 400 if error else 200)
    response.vary.add("HX-Request")
    return response
