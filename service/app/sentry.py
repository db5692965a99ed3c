"""Optional error reports to Sentry (``STET_SENTRY_DSN``; the ``sentry`` extra installs the SDK).

Nothing personal is sent: no request bodies (comments), no cookies or addresses, no local variables
(a frame may hold a comment); each event is tagged with its request id (``service.logs``).
"""

from __future__ import annotations

from typing import Any

import click

from service import logs
from service.config import Settings

MISSING = (
    "STET_SENTRY_DSN is set but the Sentry SDK is not installed: pip install 'stet[sentry]' "
    "(or unset STET_SENTRY_DSN)"
)


def require(settings: Settings) -> None:
    """Stop the start with a clear message when a DSN is set and the SDK is missing."""
    if not settings.sentry_dsn:
        return
    try:
        import sentry_sdk  # noqa: F401
    except ImportError:
        raise click.ClickException(MISSING) from None


def _tag_request(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    request_id = logs.request_id.get()
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def init(settings: Settings) -> None:
    """Report errors of this process (and the processes it forks) to Sentry, when a DSN is set."""
    require(settings)
    if not settings.sentry_dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        integrations=[FlaskIntegration(transaction_style="url"), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        before_send=_tag_request,  # type: ignore[arg-type]
    )
