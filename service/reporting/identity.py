"""The identity monitor: are comments that mention identity groups held or overturned more often?

``TERMS`` is a short list of words naming identity groups, after the identity columns of Jigsaw's
"Unintended Bias in Toxicity Classification" data (gender, sexual orientation, religion, race and
ethnicity, disability), plus immigrants and refugees. SQL finds candidate comments with a
case-insensitive ``LIKE '%term%'`` (portable, but it also matches "gaylord" or "blackberry");
Python then keeps only whole-word matches on those candidates, so only comments that contain
one of the strings are loaded, never the period's every comment. The rest is counted in SQL.

Held: the model queued or rejected the comment. Overturned: a person approved a comment the
model held or rejected (out of those a person decided).
"""

from __future__ import annotations

import re

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from service.models import Comment, Decision, Status
from service.reporting.result import Table, share
from service.reporting.scope import Scope

TERMS = (
    "woman",
    "women",
    "transgender",
    "trans",
    "nonbinary",
    "gay",
    "gays",
    "lesbian",
    "lesbians",
    "bisexual",
    "queer",
    "lgbt",
    "lgbtq",
    "homosexual",
    "christian",
    "christians",
    "muslim",
    "muslims",
    "islam",
    "islamic",
    "jew",
    "jews",
    "jewish",
    "hindu",
    "hindus",
    "buddhist",
    "buddhists",
    "sikh",
    "sikhs",
    "atheist",
    "atheists",
    "black",
    "blacks",
    "white",
    "whites",
    "asian",
    "asians",
    "latino",
    "latinos",
    "latina",
    "latinas",
    "hispanic",
    "hispanics",
    "immigrant",
    "immigrants",
    "refugee",
    "refugees",
    "disabled",
    "disability",
    "autistic",
    "mentally ill",
)
# The LIKE patterns: every term is found by one of these shorter strings.
STEMS = sorted({term for term in TERMS if not any(other != term and other in term for other in TERMS)})
WORD = re.compile(r"\b(?:" + "|".join(re.escape(term) for term in TERMS) + r")\b", re.IGNORECASE)
APPROACH = (
    "Identity monitor: comments whose text contains one of a documented list of identity terms as a "
    "whole word (SQL LIKE finds candidates, Python checks word boundaries)."
)
HELD = (Status.QUEUED.value, Status.REJECTED.value)


def monitor(session: Session, scope: Scope) -> Table:
    comments = scope.during(scope.comments(select(Comment.id)), Comment.created_at)
    facts = (
        select(
            Decision.comment_id,
            func.max(case((Decision.by == "auto", Decision.status))).label("auto"),
            func.max(case((Decision.by == "moderator", 1), else_=0)).label("person"),
        )
        .where(Decision.comment_id.in_(comments))
        .group_by(Decision.comment_id)
        .subquery()
    )
    base = scope.during(
        scope.comments(select().select_from(Comment).outerjoin(facts, facts.c.comment_id == Comment.id)),
        Comment.created_at,
    )
    everyone = _tally(
        session.execute(
            base.add_columns(facts.c.auto, Comment.status, facts.c.person, func.count()).group_by(
                facts.c.auto, Comment.status, facts.c.person
            )
        ).all()
    )
    candidates = session.execute(
        base.add_columns(Comment.body, facts.c.auto, Comment.status, facts.c.person).where(
            or_(*(Comment.body.ilike(f"%{stem}%") for stem in STEMS))
        )
    ).all()
    mentioning = _tally(
        [(a, status, person, 1) for body, a, status, person in candidates if WORD.search(body)]
    )
    rest = [e - m for e, m in zip(everyone, mentioning, strict=True)]
    rows = [
        [group, n, held, share(held, n), decided, overturned, share(overturned, decided)]
        for group, (n, held, decided, overturned) in (
            ("Mentions an identity group", mentioning),
            ("Does not", rest),
        )
    ]
    return Table(
        "identity",
        "Identity monitor: held and overturned",
        [
            "Comments",
            "Received",
            "Held by the model",
            "Hold rate",
            "Held and decided by a person",
            "Approved by a person",
            "Overturn rate",
        ],
        rows,
        percent=("Hold rate", "Overturn rate"),
    )


def _tally(rows) -> list[int]:  # type: ignore[no-untyped-def]
    """(auto status, status now, decided by a person, count) rows → received, held, decided, overturned."""
    received = held = decided = overturned = 0
    for auto, status, person, count in rows:
        received += count
        if auto in HELD:
            held += count
            if person:
                decided += count
                overturned += count if status == Status.APPROVED.value else 0
    return [received, held, decided, overturned]
