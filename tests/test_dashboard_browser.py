"""The dashboard in headless Chromium (Debian's, never a downloaded one) against a live server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service import moderation
from service.models import Comment, Status, User
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def dialogs():
    """Messages of every alert/confirm/prompt the page opened (an XSS would show up here)."""
    return []


@pytest.fixture
def page(browser, live_server, dialogs):
    """A fresh browser tab on the live server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1000, "height": 760})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def log_in(page, password: str, name: str = "mod") -> None:
    page.goto("/dashboard/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")
    page.wait_for_url("**/dashboard/")


def test_moderator_works_the_queue_by_mouse_and_keyboard(page, dialogs, make_user, queued_comment, site):
    password = make_user("mod")
    by_click = queued_comment("The council should publish the full budget, not a summary.", toxicity=0.62)
    by_key = queued_comment(
        "Honestly this reporter has no idea what they are talking about.",
        toxicity=0.81,
        article={"id": "story-2", "title": "Bridge closure", "url": "https://planet.example/bridge"},
        author={"id": "reader-7", "name": "Lois"},
    )
    xss = queued_comment("<script>alert(1)</script><img src=x onerror=alert(1)>", toxicity=0.3)

    page.goto("/dashboard/")
    assert "/dashboard/login" in page.url
    screenshot(page, "login")
    page.fill("input[name=name]", "mod")
    page.fill("input[name=password]", "a wrong guess")
    page.click("button:has-text('Log in')")
    assert page.get_by_role("alert").inner_text() == "Wrong name or password."
    screenshot(page, "login-error")
    log_in(page, password)
    assert page.locator(".card").count() == 3
    assert page.locator(f"#comment-{xss} .body").inner_text() == (
        "<script>alert(1)</script><img src=x onerror=alert(1)>"
    )
    screenshot(page, "queue")

    page.evaluate("window.__marker = 1")  # survives only if the page is never reloaded
    page.locator(f"#comment-{by_click}").get_by_role("button", name="Approve").click()
    page.locator(f"#comment-{by_click}.decided").wait_for()
    assert page.locator(f"#comment-{by_click}").inner_text().startswith("Approved by mod")

    page.locator(f"#comment-{by_key}").focus()
    page.keyboard.press("a")
    page.locator(f"#comment-{by_key}.decided").wait_for()
    assert "Approved by mod" in page.locator(f"#comment-{by_key}").inner_text()
    assert page.evaluate("document.activeElement.id") == f"comment-{xss}"  # focus moved on
    assert page.evaluate("window.__marker") == 1
    screenshot(page, "after-approve")

    for comment_id in (by_click, by_key):
        decision = site.get_comment(comment_id).get_json()["decision"]
        assert (decision["status"], decision["by"], decision["moderator"]) == ("approved", "moderator", "mod")
    assert site.status(xss) == "queued"
    assert dialogs == []


def test_j_and_k_move_focus_between_cards(page, make_user, queued_comment):
    password = make_user("mod")
    first, second = queued_comment("Worst.", toxicity=0.9), queued_comment("Milder.", toxicity=0.4)
    log_in(page, password)
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == f"comment-{first}"
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == f"comment-{second}"
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.id") == f"comment-{first}"


def test_a_comment_decided_meanwhile_says_who_decided_it(page, make_user, queued_comment, db, site):
    password = make_user("mod")
    make_user("alice")
    comment_id = queued_comment()
    log_in(page, password)
    with db.session() as session:  # alice, in another tab, gets there first
        alice = session.query(User).filter_by(name="alice").one()
        moderation.moderate(session, session.get(Comment, comment_id), alice, Status.REJECTED)
    page.evaluate("window.__marker = 1")
    page.locator(f"#comment-{comment_id}").get_by_role("button", name="Approve").click()
    page.locator(f"#comment-{comment_id}.conflict").wait_for()
    assert "Already rejected by alice" in page.locator(f"#comment-{comment_id}").inner_text()
    assert page.evaluate("window.__marker") == 1
    screenshot(page, "already-decided")
    assert site.status(comment_id) == "rejected"
