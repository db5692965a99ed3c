"""Site API keys on requests: ``Authorization: Bearer <key>``."""

from __future__ import annotations

from flask import g, request

from service.accounts import site_for_key
from service.api.errors import APIError
from service.models import Site
from service.web import get_session


def current_site() -> Site:
    """The site whose key came with this request, or a 401."""
    if "site" in g:
        return g.site
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise APIError(
            401,
            "unauthorized",
            "missing API key: send 'Authorization: Bearer <site key>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    site = site_for_key(get_session(), key.strip())
    if site is None:
        raise APIError(
            401,
            "unauthorized",
            "invalid or revoked API key",
            field="Authorization",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    g.site = site
    return site
