"""The JSON API for news sites, under /api/v1, authenticated by site keys."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from service.api import articles, comments

PREFIX = "/api/v1"


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    for bp in (comments.bp, articles.bp):
        app.register_blueprint(bp, url_prefix=PREFIX)
        csrf.exempt(bp)  # bearer keys, not cookies: nothing for a forged request to ride on
