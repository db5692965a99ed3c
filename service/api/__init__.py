"""The JSON API for news sites, under /api/v1, authenticated by site keys; the moderation API
under /api/v1/moderation, authenticated by a person's token; and the Perspective-compatible
endpoint under /v1alpha1."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from service.api import (
    articles,
    authors,
    comments,
    coral,
    discovery,
    feedback,
    labels,
    limits,
    moderation,
    openapi,
    perspective,
    reader_reports,
    reports,
)
from service.api.scoring_gate import ScoringGate

PREFIX = "/api/v1"


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    app.extensions["stet.scoring_gate"] = ScoringGate(app.config["STET_SETTINGS"].scoring_concurrency)
    for bp, prefix in (
        (comments.bp, PREFIX),
        (articles.bp, PREFIX),
        (reader_reports.bp, PREFIX),
        (feedback.bp, PREFIX),
        (authors.bp, PREFIX),
        (labels.bp, PREFIX),
        (coral.bp, PREFIX),
        (reports.bp, PREFIX),
        (moderation.bp, PREFIX + "/moderation"),
        (perspective.bp, "/v1alpha1"),
    ):
        limits.per_site(bp)
        app.register_blueprint(bp, url_prefix=prefix)
        csrf.exempt(bp)  # bearer keys, not cookies: nothing for a forged request to ride on
    app.register_blueprint(discovery.bp)
    openapi.init_app(app, PREFIX)
