"""The store: sites, articles, authors, comments, their scores and decisions, and users.

A comment's ``status`` is the one thing the news site asks about:
``pending`` (not scored yet) → ``approved`` | ``rejected`` | ``queued``
(waiting for a person) → ``approved`` | ``rejected``. Every change of status
is a ``Decision`` row saying who made it, when and why.

The tables live in one module per concern and are re-exported here, so callers keep writing
``from service.models import Comment``: ``base`` (``Base``, ``UTCDateTime``, ``utcnow`` and the
enums), ``sites`` (sites, their keys, articles, authors and word lists), ``comments`` (comments,
scores, reasons, decisions, reader reports, feedback and judgement labels), ``rollups`` (the
editor reports' counts), ``webhooks`` and ``accounts`` (users, their tokens and the audit log).
Importing this package registers every table on ``Base.metadata`` (Alembic's target).
"""

from service.models.accounts import AuditEntry, HealthCheck, User, UserSite, UserToken
from service.models.base import (
    Base,
    ErasureMode,
    Premoderation,
    ReportReason,
    Role,
    Status,
    UTCDateTime,
    WordKind,
    utcnow,
)
from service.models.comments import Comment, Decision, Feedback, Label, Reason, Report, Score
from service.models.rollups import ReportRollup, ReportRollupState
from service.models.sites import ApiKey, Article, Author, Site, SiteWord
from service.models.webhooks import Webhook, WebhookDelivery

__all__ = [
    "ApiKey",
    "Article",
    "AuditEntry",
    "Author",
    "Base",
    "Comment",
    "Decision",
    "ErasureMode",
    "Feedback",
    "HealthCheck",
    "Label",
    "Premoderation",
    "Reason",
    "Report",
    "ReportReason",
    "ReportRollup",
    "ReportRollupState",
    "Role",
    "Score",
    "Site",
    "SiteWord",
    "Status",
    "User",
    "UserSite",
    "UserToken",
    "UTCDateTime",
    "Webhook",
    "WebhookDelivery",
    "WordKind",
    "utcnow",
]
