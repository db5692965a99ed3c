"""The optional Akismet client against a real local HTTP server speaking comment-check."""

from __future__ import annotations

import logging
import socket
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import FakeAkismet
from worker.scorers.spam.akismet import USER_AGENT, Akismet

KEY = "s3cr3tk3y"
BLOG = "https://news.example"


def client(fake: FakeAkismet, timeout: float = 2.0) -> Akismet:
    return Akismet(KEY, BLOG, endpoint=fake.endpoint, timeout=timeout)


def check(akismet: Akismet, content: str, **kwargs: object):
    kwargs.setdefault("user_ip", "203.0.113.7")
    kwargs.setdefault("user_agent", "Mozilla/5.0")
    return akismet.check(content=content, **kwargs)  # type: ignore[arg-type]


def test_spam_gives_a_reason_of_weight_3(fake_akismet: FakeAkismet) -> None:
    reason = check(client(fake_akismet), "cheap viagra here")
    assert reason is not None
    assert (reason.code, reason.weight, reason.detail, reason.spans) == (
        "akismet",
        3.0,
        "Akismet says spam",
        [],
    )


def test_pro_tip_discard_gives_weight_5(fake_akismet: FakeAkismet) -> None:
    reason = check(client(fake_akismet), "best online casino")
    assert reason is not None
    assert (reason.weight, reason.detail) == (5.0, "Akismet says blatant spam")


def test_ham_gives_none(fake_akismet: FakeAkismet) -> None:
    assert check(client(fake_akismet), "A thoughtful reply about the council budget.") is None
    assert len(fake_akismet.forms) == 1


def test_form_follows_the_protocol(fake_akismet: FakeAkismet) -> None:
    check(
        client(fake_akismet),
        "Grüße aus Köln",
        author="Anna",
        permalink="https://news.example/a/1",
        posted_at=datetime(2026, 12, 2, 13, 0, tzinfo=ZoneInfo("Europe/Berlin")),
        language="de",
    )
    (form,) = fake_akismet.forms
    assert form == {
        "api_key": KEY,  # Akismet's documented form: the key in the body, never in the host name
        "blog": BLOG,
        "user_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0",
        "comment_type": "comment",
        "comment_content": "Grüße aus Köln",
        "comment_author": "Anna",
        "permalink": "https://news.example/a/1",
        "blog_charset": "UTF-8",
        "blog_lang": "de",
        "comment_date_gmt": "2026-12-02T12:00:00+00:00",
    }
    assert fake_akismet.headers[0]["User-Agent"] == USER_AGENT


def test_none_values_are_omitted(fake_akismet: FakeAkismet) -> None:
    check(client(fake_akismet), "hello", user_agent=None)
    (form,) = fake_akismet.forms
    assert not {"user_agent", "comment_author", "permalink"} & form.keys()


def test_invalid_answer_is_logged_without_the_key(
    fake_akismet: FakeAkismet, caplog: pytest.LogCaptureFixture
) -> None:
    akismet = Akismet(KEY, "", endpoint=fake_akismet.endpoint)
    akismet.blog = None  # type: ignore[assignment]  # omitted from the form: the server says invalid
    with caplog.at_level(logging.WARNING, logger="worker.scorers.spam.akismet"):
        assert check(akismet, "cheap viagra") is None
    assert "blog" not in fake_akismet.forms[0]
    assert caplog.records and "invalid" in caplog.text
    assert KEY not in caplog.text


def test_slow_server_times_out_to_none(fake_akismet: FakeAkismet, caplog: pytest.LogCaptureFixture) -> None:
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="worker.scorers.spam.akismet"):
        assert check(client(fake_akismet, timeout=0.5), "slow viagra") is None
    assert time.monotonic() - start < 2.0
    assert "failed" in caplog.text and KEY not in caplog.text


def test_connection_refused_gives_none(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    akismet = Akismet(KEY, BLOG, endpoint=f"http://127.0.0.1:{port}/1.1/comment-check", timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="worker.scorers.spam.akismet"):
        assert check(akismet, "cheap viagra") is None
    assert "failed" in caplog.text and KEY not in caplog.text


def test_missing_user_ip_makes_no_request(fake_akismet: FakeAkismet) -> None:
    assert check(client(fake_akismet), "cheap viagra", user_ip=None) is None
    assert fake_akismet.forms == []


def test_default_endpoint_and_a_repr_without_the_key() -> None:
    akismet = Akismet(KEY, BLOG)
    assert akismet.endpoint == "https://rest.akismet.com/1.1/comment-check"
    assert KEY not in repr(akismet)
