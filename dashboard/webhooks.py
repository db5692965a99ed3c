"""Admins manage each site's webhook endpoints and read their delivery log: add, rotate the secret,
remove, and redeliver an event. Every change is in the audit log."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from dashboard.auth import roles_required
from service import events, webhooks
from service.models import Role, Site, Webhook, WebhookDelivery
from service.web import get_session

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
LOG_SIZE = 100


def _hook(webhook_id: int) -> Webhook:
    hook = get_session().get(Webhook, webhook_id)
    if hook is None:
        abort(404)
    return hook


@bp.get("/")
@roles_required(Role.ADMIN)
def index(error: str | None = None, secret: str | None = None, status: int = 200):
    db = get_session()
    sites = db.scalars(select(Site).order_by(Site.name)).all()
    hooks = db.scalars(select(Webhook).order_by(Webhook.site_id, Webhook.id)).all()
    counts: dict[int, dict[str, int]] = {}
    for hook_id, state, n in db.execute(
        select(WebhookDelivery.webhook_id, WebhookDelivery.state, func.count()).group_by(
            WebhookDelivery.webhook_id, WebhookDelivery.state
        )
    ):
        counts.setdefault(hook_id, {})[state] = n
    names = {site.id: site.name for site in sites}
    page = render_template(
        "dashboard/webhooks/index.html",
        sites=sites,
        hooks=hooks,
        names=names,
        counts=counts,
        events=events.EVENTS,
        error=error,
        secret=secret,
    )
    return page, status


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    db = get_session()
    site = db.get(Site, request.form.get("site_id", type=int) or 0)
    if site is None:
        return index(error="Choose a site.", status=400)
    try:
        hook = webhooks.add(
            db,
            site,
            request.form.get("url", "").strip(),
            request.form.getlist("events"),
            current_user.user,
            allow_private=current_app.config["STET_SETTINGS"].webhook_allow_private,
            networks=current_app.config["STET_SETTINGS"].webhook_networks,
        )
    except webhooks.WebhookError as exc:
        db.rollback()
        return index(error=str(exc).capitalize() + ".", status=400)
    db.commit()
    return index(secret=hook.secret)  # shown in this answer only


@bp.get("/<int:webhook_id>")
@roles_required(Role.ADMIN)
def show(webhook_id: int, secret: str | None = None):
    hook = _hook(webhook_id)
    deliveries = get_session().scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(LOG_SIZE)
    )
    site = get_session().get(Site, hook.site_id)
    return render_template(
        "dashboard/webhooks/show.html", hook=hook, site=site, deliveries=list(deliveries), secret=secret
    )


@bp.post("/<int:webhook_id>/rotate")
@roles_required(Role.ADMIN)
def rotate(webhook_id: int):
    db = get_session()
    secret = webhooks.rotate(db, _hook(webhook_id), current_user.user)
    db.commit()
    return show(webhook_id, secret=secret)


@bp.post("/<int:webhook_id>/remove")
@roles_required(Role.ADMIN)
def remove(webhook_id: int):
    db = get_session()
    webhooks.remove(db, _hook(webhook_id), current_user.user)
    db.commit()
    flash(f"Webhook {webhook_id} removed.")
    return redirect(url_for("dashboard.webhooks.index"))


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@roles_required(Role.ADMIN)
def redeliver(delivery_id: int):
    db = get_session()
    delivery = db.get(WebhookDelivery, delivery_id)
    if delivery is None:
        abort(404)
    again = webhooks.redeliver(db, delivery, current_user.user)
    db.commit()
    flash(f"Delivery {delivery_id} queued again as delivery {again.id}.")
    return redirect(url_for("dashboard.webhooks.show", webhook_id=delivery.webhook_id))
