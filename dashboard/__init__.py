"""The moderators' dashboard: server-rendered HTML with htmx, under /dashboard."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the dashboard's blueprints and login handling on ``app``."""
