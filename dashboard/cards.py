"""Comment cards on screen: the core builds them (``service.moderation.cards``); this draws the
body with its flagged spans marked, for the ``highlight`` template filter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from service.models import User
from service.moderation.cards import Card
from service.moderation.cards import load as load_cards


def highlight(body: str, spans: Iterable[Sequence[int]]) -> Markup:
    """``body`` as HTML with every span in <mark>: each piece is escaped on its own, so a span
    can never cut an entity or a tag in two. Overlapping and out-of-range spans are merged/clipped."""
    cuts = sorted((max(0, int(s)), min(len(body), int(e))) for s, e, *_ in spans if int(e) > int(s))
    merged: list[list[int]] = []
    for start, end in cuts:
        if start >= len(body):
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out.append(escape(body[at:start]))
        out.append(Markup("<mark>%s</mark>") % body[start:end])
        at = end
    out.append(escape(body[at:]))
    return Markup("").join(out)


def load(session: Session, ids: Sequence[int], me: User) -> list[Card]:
    """The cards for ``ids``, in that order, under this installation's thresholds."""
    return load_cards(session, ids, me, current_app.config["STET_SETTINGS"])


def one(session: Session, comment_id: int, me: User) -> Card | None:
    found = load(session, [comment_id], me)
    return found[0] if found else None
