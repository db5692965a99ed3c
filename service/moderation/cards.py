"""What a moderator sees of a comment, in the dashboard's card and the moderation API alike: its
flagged spans, the highest score per label, the reasons, why it is in this queue, the parent
comment, open reader reports and who holds it.

Cards for a whole page are built with a fixed number of queries, whatever the page size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from service.config import Settings
from service.models import Comment, Decision, Reason, Report, User, utcnow
from service.moderation.decisions import Seen, in_effect
from service.moderation.scoring import thresholds_for
from service.reasons import ReasonCode


@dataclass
class Card:
    comment: Comment
    spans: list[list[int]]  # [start, end] in the body: what every reason (and the toxicity spans) flagged
    labels: list[tuple[str, float]]  # highest score per label, labels in a stable order
    reasons: list[Reason]  # named signals (spam, word lists...), not the toxicity spans
    reports: list[Report] = field(default_factory=list)
    parent: Comment | None = None
    holder: User | None = None  # another moderator holding the comment now
    severe: bool = False

    @property
    def last(self) -> Decision | None:
        """The decision in effect: why the comment is in this queue (an undone one no longer counts)."""
        return in_effect(self.comment.decisions)

    @property
    def seen(self) -> str:
        """The comment's state as shown, sent back with an action so a stale one is refused."""
        return Seen.of(self.comment).token


def load(session: Session, ids: Sequence[int], me: User, settings: Settings) -> list[Card]:
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
    cards = []
    for comment_id in ids:
        comment = comments.get(comment_id)
        if comment is None:
            continue
        best: dict[str, float] = {}
        for score in comment.scores:
            best[score.label] = max(score.value, best.get(score.label, 0.0))
        reject_above = thresholds_for(comment.site, settings, comment.article).reject_above
        cards.append(
            Card(
                comment=comment,
                spans=[list(span[:2]) for r in comment.reasons for span in (r.spans or [])],
                labels=sorted(best.items(), key=lambda item: (item[0] != "toxicity", item[0])),
                reasons=[r for r in comment.reasons if r.code != ReasonCode.TOXIC_SPAN],
                reports=reports.get(comment_id, []),
                parent=parents.get(comment.parent_id) if comment.parent_id else None,
                holder=holders.get(comment.claimed_by) if comment.claimed_by in holder_ids else None,
                severe=comment.risk is not None and comment.risk >= reject_above,
            )
        )
    return cards
