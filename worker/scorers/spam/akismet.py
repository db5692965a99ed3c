"""Optional Akismet client: one extra spam signal for sites that configure a key.

``Akismet.check`` calls Akismet's ``comment-check`` endpoint (the Akismet REST API, 1.1, in its
documented form: ``https://rest.akismet.com/1.1/comment-check`` with the key as ``api_key`` in the
body) with the comment text, the reader's IP address and user agent, when it was posted
(``comment_date_gmt``), its language (``blog_lang``), and where given the author's display name and
the article's permalink. Those leave the newsroom for a third party, which is why Akismet is
off by default and switched on per site, by configuring a key.

The answer is advisory and the call must never hold up scoring: ``true`` becomes a ``Reason``
(weight 3.0, or 5.0 when Akismet adds ``X-akismet-pro-tip: discard`` for blatant spam), ``false``
becomes ``None``, and anything else (an HTTP error, a timeout, a refused connection, an
``invalid`` answer or an ``X-akismet-debug-help`` header) is logged as a warning, without the key,
and also becomes ``None``. ``check`` never raises.
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any

from service.policy import Reason
from service.reasons import ReasonCode

log = logging.getLogger(__name__)

USER_AGENT = "Stet/0.1 | Akismet-client"
SPAM_WEIGHT = 3.0
BLATANT_WEIGHT = 5.0
MAX_BODY = 64  # "true", "false" or "invalid": nothing longer is a valid answer


class Akismet:
    """A comment-check client for one site's Akismet ``key`` and ``blog`` (the site's front page URL).

    ``endpoint`` replaces ``https://rest.akismet.com/1.1/comment-check`` (tests, proxies);
    ``timeout`` (seconds) bounds connecting and each read.
    """

    def __init__(self, key: str, blog: str, *, endpoint: str | None = None, timeout: float = 2.0) -> None:
        self._key = key
        self.blog = blog
        self.endpoint = endpoint or "https://rest.akismet.com/1.1/comment-check"
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the key
        return f"Akismet(blog={self.blog!r}, timeout={self.timeout!r})"

    def check(
        self,
        *,
        content: str,
        user_ip: str | None,
        user_agent: str | None,
        author: str | None = None,
        permalink: str | None = None,
        posted_at: datetime | None = None,
        language: str | None = None,
    ) -> Reason | None:
        """Ask Akismet about one comment; a ``Reason`` when it says spam, otherwise ``None``."""
        if not user_ip:
            return None  # Akismet requires user_ip and would reject the call
        fields = self._fields(content, user_ip, user_agent, author, permalink, posted_at, language)
        try:
            body, headers = self._post(self.endpoint, fields)
        except _Failed:
            return None
        debug_help = headers.get("X-akismet-debug-help")
        if debug_help or body not in ("true", "false"):
            log.warning(
                "Akismet comment-check gave no verdict for %s: %r (%s)", self.blog, body[:20], debug_help
            )
            return None
        if body == "false":
            return None
        if (headers.get("X-akismet-pro-tip") or "").strip().lower() == "discard":
            return Reason(ReasonCode.AKISMET, BLATANT_WEIGHT, "Akismet says blatant spam", [])
        return Reason(ReasonCode.AKISMET, SPAM_WEIGHT, "Akismet says spam", [])

    def submit(self, verdict: str, **comment: Any) -> bool:
        """Tell Akismet a comment it judged was ``"spam"`` or ``"ham"`` after all (a moderator
        overturned it): ``submit-spam`` / ``submit-ham`` with the fields ``check`` sent. True when
        Akismet thanked us; failures are logged and never raised."""
        url = self.endpoint.rsplit("/", 1)[0] + f"/submit-{verdict}"
        try:
            body, _headers = self._post(url, self._fields(**comment))
        except _Failed:
            return False
        return body.startswith("Thanks")

    def _fields(
        self,
        content: str,
        user_ip: str | None,
        user_agent: str | None,
        author: str | None = None,
        permalink: str | None = None,
        posted_at: datetime | None = None,
        language: str | None = None,
    ) -> dict[str, str]:
        fields = {
            "api_key": self._key,
            "blog": self.blog,
            "user_ip": user_ip,
            "user_agent": user_agent,
            "comment_type": "comment",
            "comment_content": content,
            "comment_author": author,
            "permalink": permalink,
            "blog_charset": "UTF-8",
            "blog_lang": language,
            "comment_date_gmt": posted_at.astimezone(UTC).isoformat(timespec="seconds")
            if posted_at is not None
            else None,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def _post(self, url: str, fields: dict[str, str]) -> tuple[str, Any]:
        """POST the form; its short answer and headers, or ``_Failed`` (logged, without the key)."""
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(fields).encode("utf-8"),
            method="POST",
            headers={
                "User-Agent": USER_AGENT,
                "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            },
        )
        call = url.rsplit("/", 1)[-1]
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read(MAX_BODY).decode("utf-8", "replace").strip(), response.headers
        except urllib.error.HTTPError as exc:
            exc.close()
            log.warning("Akismet %s failed for %s: HTTP %s", call, self.blog, exc.code)
            raise _Failed from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # URLError, TimeoutError and ConnectionError are OSErrors; ValueError: a malformed endpoint
            cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            log.warning("Akismet %s failed for %s: %s", call, self.blog, type(cause).__name__)
            raise _Failed from None


class _Failed(Exception):
    """An Akismet call that got no answer (already logged)."""
