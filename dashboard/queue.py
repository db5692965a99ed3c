"""The queues: a page of comment cards, the next page as infinite scroll, and live counts."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import cards
from dashboard.auth import my_sites, roles_required
from service.models import Role, Site
from service.moderation import RejectCode, queues
from service.web import get_session

bp = Blueprint("queue", __name__)
MODERATORS = (Role.MODERATOR, Role.ADMIN)


@bp.app_template_test("web_url")
def is_web_url(value: str | None) -> bool:
    """Only http(s) URLs become links: a site could send ``javascript:`` as an article URL."""
    return bool(value) and value.lower().startswith(("http://", "https://"))


bp.add_app_template_filter(cards.highlight, "highlight")


@bp.app_template_filter("in_zone")
def in_zone(moment: datetime, zone: str = "UTC", fmt: str = "%-d %b %Y, %H:%M") -> str:
    """A stored (UTC) time as people of the site read it, the zone named: "2 Dec 2026, 14:05 CET"."""
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


@bp.app_context_processor
def dashboard_globals() -> dict[str, object]:
    return {
        "reject_codes": list(RejectCode),
        "labels": queues.LABELS,
        "queue_names": list(queues.Queue),
        "cap": queues.COUNT_CAP,
        "has_endpoint": lambda endpoint: endpoint in current_app.view_functions,
    }


def in_site_zone(db: Session, filters: queues.Filters) -> queues.Filters:
    """The filters with their days read in the site's zone when the page shows one site (chosen,
    the moderator's only one, or the installation's only one); in UTC otherwise."""
    scope = my_sites()
    one = filters.site or (next(iter(scope)) if scope is not None and len(scope) == 1 else None)
    if one is None:
        ids = db.scalars(select(Site.id).limit(2)).all()
        one = ids[0] if len(ids) == 1 else None
    site = db.get(Site, one) if one is not None else None
    return replace(filters, zone=site.timezone) if site is not None else filters


@bp.get("/")
@bp.get("/queues/<name>")
@roles_required(*MODERATORS)
def index(name: str = queues.Queue.REVIEW.value):
    try:
        queue = queues.Queue(name)
    except ValueError:
        abort(404)
    db = get_session()
    error, status = None, 200
    try:
        filters = in_site_zone(db, queues.Filters.parse(request.args))
        page = queues.page(db, queue, filters, request.args.get("cursor") or None, sites=my_sites())
    except queues.FilterError as exc:
        filters, page, error, status = queues.Filters(), queues.Page([], None), str(exc), 400
    found = cards.load(db, page.ids, current_user.user)
    next_url = None
    if page.cursor:
        next_url = url_for(".index", name=queue.value, cursor=page.cursor, **filters.query_args())
    context = {"queue": queue, "filters": filters, "cards": found, "next_url": next_url}
    if request.htmx and request.args.get("cursor"):
        response = make_response(render_template("dashboard/_rows.html", **context))
    else:
        scope = my_sites()
        counts = queues.counts(db, scope)
        choices = db.scalars(
            select(Site).where(*([] if scope is None else [Site.id.in_(sorted(scope))])).order_by(Site.name)
        ).all()
        context.update(error=error, counts=counts, site_choices=choices, my_scope=scope)
        context["settled_id"] = queues.settled_id(db)
        page_html = render_template("dashboard/queue.html", **context)
        response = make_response(page_html, status)
    response.vary.add("HX-Request")
    return response


@bp.get("/queues/<name>/arrivals")
@roles_required(*MODERATORS)
def arrivals(name: str):
    """Cards of the comments that may have reached this queue since the page's ``after`` id (those
    it shows already are skipped); the page polls it and puts each new card where the queue's order
    has it (static/keys.js)."""
    try:
        queue = queues.Queue(name)
        filters = queues.Filters.parse(request.args)
        after = int(request.args.get("after", ""))
        filters = in_site_zone(get_session(), filters)
    except (ValueError, queues.FilterError):
        abort(400)
    db = get_session()
    settled = queues.settled_id(db)  # first: a comment decided meanwhile is asked for again next time
    found = cards.load(db, queues.arrivals(db, queue, filters, after, my_sites()), current_user.user)
    return render_template("dashboard/_arrivals.html", cards=found, after=settled)


@bp.get("/counts")
@roles_required(*MODERATORS)
def counts():
    """The queue tabs with their counts; the page polls this every few seconds."""
    current = request.args.get("queue", queues.Queue.REVIEW.value)
    counts = queues.counts(get_session(), my_sites())
    return render_template("dashboard/_counts.html", counts=counts, current=current)


@bp.post("/preferences/blur")
@roles_required(*MODERATORS)
def toggle_blur():
    """Blur (or stop blurring) comments at or above the rejection threshold until clicked."""
    session["blur"] = not session.get("blur", False)
    return redirect(request.referrer if _same_site(request.referrer) else url_for(".index"))


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)
