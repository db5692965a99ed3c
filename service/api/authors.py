"""Privacy requests for one author: ``GET`` exports their data, ``DELETE`` erases it."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from service import privacy
from service.api.auth import current_site
from service.api.errors import APIError
from service.api.openapi import documented
from service.api.responses import AuthorExport, ErasureOut
from service.models import Author
from service.web import get_session

bp = Blueprint("authors", __name__)


def _author(author_id: str) -> Author:
    site = current_site()
    author = get_session().scalar(
        select(Author).where(Author.site_id == site.id, Author.external_id == author_id)
    )
    if author is None:
        raise APIError(404, "not_found", f"no author {author_id!r}", field="author_id")
    return author


@bp.get("/authors/<path:author_id>")
@documented(answer=AuthorExport, errors=(404,), tags=["privacy"])
def export(author_id: str):
    """Everything Stet keeps about an author (a data access request), as JSON."""
    author = _author(author_id)
    session = get_session()
    data = privacy.export(session, current_site(), author)
    session.commit()
    return data


@bp.delete("/authors/<path:author_id>")
@documented(answer=ErasureOut, errors=(404,), tags=["privacy"])
def erase(author_id: str):
    """Erase an author: comments anonymised (text kept) or removed, per the site's erasure setting."""
    author = _author(author_id)
    session = get_session()
    result = privacy.erase(session, current_site(), author)
    session.commit()
    return result
