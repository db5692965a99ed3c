"""What a comment card shows: the body with its flagged spans marked, a bar per label, the reasons,
why the comment is in this queue, the parent comment, reader reports and who holds it.

Cards for a whole page are built with a fixed number of queries, whatever the page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from service import moderation
from service.models import Comment, Decision, Reason, Report, User, utcnow

# A toxicity scorer's per-span contribution: it marks text, it is not a reason of its own.
SPAN_CODE = "toxic_span"


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


@dataclass
class Card:
    comment: Comment
    body: Markup
    labels: list[tuple[str, float]]  # highest score per label, labels in a stable order
    reasons: list[Reason]  # named signals (spam, word lists...), not the toxicity spans
    reports: list[Report] = field(default_factory=list)
    parent: Comment | None = None
    holder: User | None = None  # another moderator holding the comment now
    severe: bool = False

    @property
    def last(self) -> Decision | None:
        """The decision in effect: why the comment is in this queue (an undone one no longer counts)."""
        return moderation.in_effect(self.comment.decisions)

    @property
    def seen(self) -> str:
        """The comment's state as shown, sent back with an action so a stale one is refused."""
        at = self.comment.decided_at
        return f"{self.comment.status}|{at.isoformat() if at else ''}"


def load(session: Session, ids: Sequence[int], me: User) -> list[Card]:
    """Cards for ``ids``, in that order."""
    if not ids:
        return []
    comments = {
        c.id: c
        for c in session.scalars(
            select(Comment)
            .where(Comment.id.in_(ids))
            .options(
                joinedload(Comment.article),
                joinedload(Comment.author),
                joinedload(Comment.site),
                selectinload(Comment.scores),
                selectinload(Comment.reasons),
                selectinload(Comment.decisions).joinedload(Decision.user),
            )
        )
    }
    reports: dict[int, list[Report]] = defaultdict(list)
    for report in session.scalars(
        select(Report).where(Report.comment_id.in_(ids), Report.resolution.is_(None)).order_by(Report.id)
    ):
        reports[report.comment_id].append(report)
    parent_ids = {c.parent_id for c in comments.values() if c.parent_id}
    parents = {}
    if parent_ids:
        parents = {p.id: p for p in session.scalars(select(Comment).where(Comment.id.in_(parent_ids)))}
    now = utcnow()
    holder_ids = {
        c.claimed_by
        for c in comments.values()
        if c.claimed_by and c.claimed_by != me.id and c.claimed_until and c.claimed_until > now
    }
    holders = {}
    if holder_ids:
        holders = {u.id: u for u in session.scalars(select(User).where(User.id.in_(holder_ids)))}
    settings = current_app.config["STET_SETTINGS"]
    cards = []
    for comment_id in ids:
        comment = comments.get(comment_id)
        if comment is None:
            continue
        best: dict[str, float] = {}
        for score in comment.scores:
            best[score.label] = max(score.value, best.get(score.label, 0.0))
        reject_above = moderation.thresholds_for(comment.site, settings, comment.article).reject_above
        cards.append(
            Card(
                comment=comment,
                body=highlight(comment.body, (span for r in comment.reasons for span in (r.spans or []))),
                labels=sorted(best.items(), key=lambda item: (item[0] != "toxicity", item[0])),
                reasons=[r for r in comment.reasons if r.code != SPAN_CODE],
                reports=reports.get(comment_id, []),
                parent=parents.get(comment.parent_id) if comment.parent_id else None,
                holder=holders.get(comment.claimed_by) if comment.claimed_by in holder_ids else None,
                severe=comment.risk is not None and comment.risk >= reject_above,
            )
        )
    return cards


def one(session: Session, comment_id: int, me: User) -> Card | None:
    cards = load(session, [comment_id], me)
    return cards[0] if cards else None
