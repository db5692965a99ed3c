"""Domain functions that change comments; the API, the worker and the dashboard all go through them.

Each function works inside the caller's session and leaves committing to it,
except where a conditional UPDATE is what makes a decision safe against a
second worker or a second moderator acting on the same comment.

The functions live in one module per concern and are re-exported here, so callers keep writing
``moderation.moderate``: ``intake`` (saving comments, the worker's questions), ``scoring`` (the
thresholds and the policy on a comment's scores), ``decisions`` (a person's decisions and undo),
``claims`` and ``standing`` (authors).
"""

from service.moderation.claims import CLAIM_SECONDS, claim, claimant, release
from service.moderation.decisions import (
    RejectCode,
    Seen,
    decided_by,
    in_effect,
    moderate,
    undo,
)
from service.moderation.errors import (
    AuthorBanned,
    AuthorSuspended,
    CommentsClosed,
    ModerationError,
    Refused,
)
from service.moderation.intake import (
    Submission,
    Waiting,
    earlier_comment_count,
    mark_enqueued,
    stale_pending,
    submit_comment,
    waiting,
    word_lists,
)
from service.moderation.scoring import (
    RISK_LABELS,
    ScorerResult,
    premoderation_hold,
    record_scores,
    score_rows,
    thresholds_for,
    unvalidated_language,
)
from service.moderation.standing import BANNED_NOTE, Standing, Swept, reject_waiting, set_standing

__all__ = [
    "AuthorBanned",
    "AuthorSuspended",
    "CommentsClosed",
    "Refused",
    "BANNED_NOTE",
    "CLAIM_SECONDS",
    "RISK_LABELS",
    "ModerationError",
    "RejectCode",
    "ScorerResult",
    "Seen",
    "Standing",
    "Submission",
    "Swept",
    "Waiting",
    "claim",
    "claimant",
    "decided_by",
    "earlier_comment_count",
    "in_effect",
    "mark_enqueued",
    "moderate",
    "premoderation_hold",
    "record_scores",
    "reject_waiting",
    "release",
    "score_rows",
    "set_standing",
    "stale_pending",
    "submit_comment",
    "thresholds_for",
    "undo",
    "unvalidated_language",
    "waiting",
    "word_lists",
]
