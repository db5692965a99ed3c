"""Every report page in headless Chromium, as an editor and an admin, with screenshots to look at."""

from __future__ import annotations

import pytest

from tests.conftest import SCREENSHOTS
from tests.test_reports import RANGE, history  # noqa: F401


@pytest.fixture
def page(browser, live_server, dialogs):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


pytestmark = pytest.mark.browser
QUERY = f"from={RANGE['from']}&to={RANGE['to']}"


def log_in(page, name: str) -> None:
    page.goto("/dashboard/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button:has-text('Log in')")
    page.wait_for_load_state()


@pytest.mark.parametrize(
    "name", ["volume", "moderation", "queue", "articles", "moderators", "readers", "model"]
)
def test_admin_sees_each_report_with_charts_tables_and_csv(page, history, name):  # noqa: F811
    log_in(page, "boss")
    page.goto(f"/dashboard/reports/{name}?{QUERY}")
    assert page.locator("h1").inner_text()
    assert page.locator(".report-table table, .report-table .empty-table").count() >= 1
    assert page.locator("a.csv").count() == page.locator(".report-table").count()
    if name not in ("model",):
        assert page.locator("svg.chart").count() >= 1
    screenshot(page, f"reports-{name}")


def test_editor_runs_the_threshold_simulator(page, history, dialogs):  # noqa: F811
    log_in(page, "editor")
    page.goto(f"/dashboard/reports/model?{QUERY}")
    assert page.locator(".report-tabs").get_by_role("link", name="Moderators", exact=True).count() == 0
    page.fill("input[name=reject_above]", "0.45")
    page.click("button:has-text('Simulate')")
    row = page.locator("#simulation-table tbody tr").first
    row.wait_for()
    assert "auto-reject at 0.45 instead of 0.97" in row.inner_text()
    page.fill("input[name=threat_reject_at]", "0.5")  # a dangerous attribute's rule, beside toxicity's
    page.click("button:has-text('Simulate')")
    page.locator("#simulation-table", has_text="reject for threat at 0.5 instead of 0.9").wait_for()
    screenshot(page, "reports-simulator")
    assert dialogs == []
