"""Admins manage sites: create one, its API keys (shown once), its thresholds and word lists."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from dashboard.auth import roles_required
from service import accounts, policy
from service.models import ApiKey, Role, Site, WordKind
from service.moderation import word_lists
from service.web import get_session
from worker.scorers import validated_languages

bp = Blueprint("sites", __name__, url_prefix="/admin/sites")


def get_site(site_id: int) -> Site:
    site = get_session().get(Site, site_id)
    if site is None:
        abort(404)
    return site


@bp.get("/")
@roles_required(Role.ADMIN)
def index(error: str | None = None, new_key: str | None = None, status: int = 200):
    sites = get_session().scalars(select(Site).order_by(Site.name)).all()
    return render_template("dashboard/admin/sites.html", sites=sites, error=error, new_key=new_key), status


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    db = get_session()
    try:
        site, key = accounts.create_site(db, request.form.get("name", ""), actor=current_user.user)
    except accounts.AccountError as exc:
        db.rollback()
        return index(error=str(exc).capitalize() + ".", status=400)
    db.commit()
    # The key is in this answer only (never in a flash cookie or a log): it cannot be shown again.
    return show(site.id, new_key=key)


@bp.get("/<int:site_id>")
@roles_required(Role.ADMIN)
def show(site_id: int, error: str | None = None, new_key: str | None = None, status: int = 200):
    db = get_session()
    site = get_site(site_id)
    keys = db.scalars(select(ApiKey).where(ApiKey.site_id == site.id).order_by(ApiKey.id)).all()
    lists = {kind.value: "\n".join(patterns) for kind, patterns in word_lists(db, site.id).items()}
    if error and request.method == "POST":  # keep what the admin typed
        lists.update({kind.value: request.form.get(kind.value, lists[kind.value]) for kind in WordKind})
    page = render_template(
        "dashboard/admin/site.html",
        site=site,
        keys=keys,
        lists=lists,
        thresholds=accounts.THRESHOLDS,
        dangerous=policy.DANGEROUS,
        defaults=current_app.config["STET_SETTINGS"].attribute_rules,
        rude_default=current_app.config["STET_SETTINGS"].rude,
        unvalidated_default=current_app.config["STET_SETTINGS"].unvalidated_language,
        validated=sorted(validated_languages(current_app.config["STET_SETTINGS"].scorers)),
        timezones=sorted(available_timezones()),
        error=error,
        new_key=new_key,
    )
    return page, status


@bp.post("/<int:site_id>/keys")
@roles_required(Role.ADMIN)
def create_key(site_id: int):
    db = get_session()
    key = accounts.create_key(db, get_site(site_id), actor=current_user.user)
    db.commit()
    return show(site_id, new_key=key)


@bp.post("/<int:site_id>/keys/<int:key_id>/revoke")
@roles_required(Role.ADMIN)
def revoke_key(site_id: int, key_id: int):
    db = get_session()
    key = db.get(ApiKey, key_id)
    if key is None or key.site_id != site_id:
        abort(404)
    try:
        accounts.revoke_key(db, key, actor=current_user.user)
    except accounts.AccountError as exc:
        return show(site_id, error=str(exc).capitalize() + ".", status=400)
    db.commit()
    flash(f"Revoked key {key.prefix}…")
    return redirect(url_for(".show", site_id=site_id))


@bp.post("/<int:site_id>/thresholds")
@roles_required(Role.ADMIN)
def thresholds(site_id: int):
    db, site = get_session(), get_site(site_id)
    values: dict[str, float | None] = {}
    for name in accounts.THRESHOLDS:
        raw = request.form.get(name, "").strip()
        try:
            values[name] = float(raw) if raw else None
        except ValueError:
            return show(site_id, error=f"{name.replace('_', ' ').capitalize()}: a number.", status=400)
    attributes: dict[str, dict[str, float | None]] = {}
    for label in policy.DANGEROUS:
        for field in ("queue_at", "reject_at"):
            raw = request.form.get(f"{label}.{field}", "").strip().lower()
            if not raw:
                continue
            try:
                value = None if raw == "never" and field == "reject_at" else float(raw)
            except ValueError:
                hint = "a number" + (" or “never”" if field == "reject_at" else "")
                return show(
                    site_id, error=f"{policy.DANGEROUS[label].capitalize()} {field}: {hint}.", status=400
                )
            attributes.setdefault(label, {})[field] = value
    try:
        accounts.set_thresholds(
            db,
            site,
            values,
            actor=current_user.user,
            attributes=attributes,
            rude=request.form.get("rude", ""),
        )
    except accounts.AccountError as exc:
        db.rollback()
        return show(site_id, error=str(exc).capitalize() + ".", status=400)
    db.commit()
    flash("Thresholds saved.")
    return redirect(url_for(".show", site_id=site_id))


@bp.post("/<int:site_id>/language")
@roles_required(Role.ADMIN)
def language(site_id: int):
    db, site = get_session(), get_site(site_id)
    try:
        accounts.set_language(
            db,
            site,
            request.form.get("language", ""),
            request.form.get("unvalidated_language", ""),
            actor=current_user.user,
        )
    except accounts.AccountError as exc:
        db.rollback()
        return show(site_id, error=str(exc).capitalize() + ".", status=400)
    db.commit()
    flash("Language saved.")
    return redirect(url_for(".show", site_id=site_id))


@bp.post("/<int:site_id>/options")
@roles_required(Role.ADMIN)
def options(site_id: int):
    """The site's time zone, erasure mode and the reader-report weight that hides a comment."""
    db, site = get_session(), get_site(site_id)
    weight = request.form.get("report_hide_weight", "").strip()
    try:
        accounts.set_options(
            db,
            site,
            timezone=request.form.get("timezone", ""),
            erasure=request.form.get("erasure", ""),
            report_hide_weight=float(weight),
            actor=current_user.user,
        )
    except ValueError as exc:  # AccountError, or a weight that is not a number
        db.rollback()
        message = str(exc) if isinstance(exc, accounts.AccountError) else f"report hide weight: {weight!r}"
        return show(site_id, error=message[:1].upper() + message[1:] + ".", status=400)
    db.commit()
    flash("Site options saved.")
    return redirect(url_for(".show", site_id=site_id))


@bp.post("/<int:site_id>/integrations")
@roles_required(Role.ADMIN)
def integrations(site_id: int):
    """Coral's external moderation phase (its signing secret) and the Akismet check; a secret or
    key left blank stays as it is, "Turn off" clears it."""
    db, site = get_session(), get_site(site_id)
    form = request.form
    try:
        if form.get("coral_off"):
            accounts.set_coral_secret(db, site, "", actor=current_user.user)
        elif form.get("coral_secret", "").strip():
            accounts.set_coral_secret(db, site, form["coral_secret"], actor=current_user.user)
        key = form.get("akismet_key", "").strip() or site.akismet_key
        blog = form.get("akismet_blog", "").strip()
        if form.get("akismet_off"):
            accounts.set_akismet(db, site.name, None, None, actor=current_user.user)
        elif key and (key != site.akismet_key or blog != (site.akismet_blog or "")):
            accounts.set_akismet(db, site.name, key, blog, actor=current_user.user)
        elif blog and not key:
            raise accounts.AccountError("Akismet needs the site's Akismet key too")
    except accounts.AccountError as exc:
        db.rollback()
        return show(site_id, error=str(exc)[:1].upper() + str(exc)[1:] + ".", status=400)
    db.commit()
    flash("Integrations saved.")
    return redirect(url_for(".show", site_id=site_id))


@bp.post("/<int:site_id>/words")
@roles_required(Role.ADMIN)
def words(site_id: int):
    """Save the three lists as typed (one entry a line): new lines are added, missing ones removed."""
    db, site = get_session(), get_site(site_id)
    current = word_lists(db, site.id)
    wanted = {
        kind: [w.strip() for w in request.form.get(kind.value, "").splitlines() if w.strip()]
        for kind in WordKind
    }
    try:
        added = {kind: [w for w in wanted[kind] if w not in current[kind]] for kind in WordKind}
        removed = {kind: [w for w in current[kind] if w not in wanted[kind]] for kind in WordKind}
        accounts.change_words(db, site.name, added, actor=current_user.user)
        accounts.change_words(db, site.name, removed, remove=True, actor=current_user.user)
    except accounts.AccountError as exc:
        db.rollback()
        return show(site_id, error=str(exc).capitalize() + ".", status=400)
    db.commit()
    flash("Word lists saved.")
    return redirect(url_for(".show", site_id=site_id))
