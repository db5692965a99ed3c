"""The dashboard in headless Chromium (Debian's, never a downloaded one) against a live server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from service import policy
from service.models import AuditEntry, Comment, Site, Status
from tests.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

LAPTOP = {"width": 1366, "height": 768}
XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"


@pytest.fixture
def new_page(browser, live_server, dialogs):
    """Open fresh browser tabs (each its own context: its own cookies) on the live server.

    Every test fails on a Content-Security-Policy violation: the dashboard must work under its CSP."""
    contexts, violations = [], []

    def make():
        context = browser.new_context(base_url=live_server, viewport=LAPTOP)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on(
            "console",
            lambda message: "Content Security Policy" in message.text and violations.append(message.text),
        )
        return page

    yield make
    for context in contexts:
        context.close()
    assert violations == []


@pytest.fixture
def page(new_page):
    return new_page()


def screenshot(page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=full_page)


def log_in(page, password: str, name: str = "mod") -> None:
    page.goto("/dashboard/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Log out").wait_for()
    ready(page)


def ready(page) -> None:
    """Wait until the page's scripts run (keys pressed before would be lost)."""
    page.wait_for_function("() => window.htmx && document.readyState === 'complete'")


def focused_id(page) -> str:
    return page.evaluate("document.activeElement.id")


def count(db, *where) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Comment).where(*where))


def test_a_moderator_clears_a_queue_of_50_mixed_comments_by_keyboard_alone(
    page, dialogs, make_user, scored_comment, db
):
    password = make_user("mod")
    for n in range(50):
        toxicity = 0.1 + (n * 37 % 85) / 100
        if n % 5 == 0:
            spam = [policy.Reason("link", 1.2, "links to casino.example", [(0, 6)])]
            scored_comment(f"Visit {n} casino deals now", scores={"toxicity": 0.2, "spam": 0.7}, reasons=spam)
        else:
            scored_comment(f"Comment number {n} about the budget", scores={"toxicity": toxicity})
    assert count(db, Comment.status == Status.QUEUED.value) == 50
    log_in(page, password)
    assert page.locator("#cards .card").count() == 25  # the first page; the rest scrolls in

    for n in range(50):
        if not page.evaluate("!!document.activeElement.closest('#cards .card')"):
            page.locator("#cards .card").first.wait_for()  # the next page, scrolled in
            page.keyboard.press("j")
        page.locator("#cards .card:focus").wait_for()
        if n % 3 == 2:
            page.keyboard.press("r")
            page.keyboard.press(str(n % 9 + 1))  # a reason code by its number
        else:
            page.keyboard.press("a")
        page.wait_for_function(f"() => document.querySelectorAll('#cards .decided').length === {n + 1}")
    assert count(db, Comment.status == Status.QUEUED.value) == 0
    assert count(db, Comment.status == Status.REJECTED.value) == 16
    page.locator("[data-queue=review]", has_text="0").wait_for()  # the live count followed
    screenshot(page, "queue-cleared")
    with db.session() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "mod")).all()
    assert sorted(set(actions)) == ["comment.approved", "comment.rejected"] and len(actions) == 50
    assert dialogs == []


def test_the_card_shows_highlights_labels_reports_and_the_author_drawer(
    page, make_user, scored_comment, queued_comment, db
):
    password = make_user("mod")
    parent = queued_comment("The bridge should have been repaired years ago.", toxicity=0.2)
    with db.session() as session:
        parent_external = session.get(Comment, parent).id
    body = "You are an absolute idiot, and everyone at casino-wins.example knows it."
    reasons = [
        policy.Reason("toxic_span", 0.9, "idiot", [(body.index("idiot"), body.index("idiot") + 5)]),
        policy.Reason(
            "suspect_word", 0.6, "suspect word “casino”", [(body.index("casino"), body.index("casino") + 6)]
        ),
    ]
    scores = {"toxicity": 0.88, "insult": 0.81, "threat": 0.04, "identity_attack": 0.12, "spam": 0.31}
    flagged = scored_comment(
        body,
        scores=scores,
        reasons=reasons,
        reports=2,
        parent_id=parent_external,
        article={"id": "bridge", "title": "Bridge closure", "url": "https://planet.example/bridge"},
        author={"id": "reader-7", "name": "Lois"},
    )
    scored_comment(
        "An earlier remark by Lois.", scores={"toxicity": 0.01}, author={"id": "reader-7", "name": "Lois"}
    )
    log_in(page, password)
    card = page.locator(f"#comment-{flagged}")
    assert card.locator("mark").all_inner_texts() == ["idiot", "casino"]
    assert "In reply to" in card.locator(".parent").inner_text()
    assert "2 reader reports" in card.locator(".reports").inner_text()
    assert card.locator(".label .name").all_inner_texts()[:2] == ["toxicity", "identity attack"]
    page.keyboard.press("j")
    screenshot(page, "queue")
    card.focus()
    page.keyboard.press("r")
    screenshot(page, "reason-picker")
    page.keyboard.press("Escape")
    assert focused_id(page) == f"comment-{flagged}"
    page.keyboard.press("h")
    drawer = page.locator("#drawer .author-panel")
    drawer.wait_for()
    assert "Lois" in drawer.inner_text() and "Approval rate" in drawer.inner_text()
    assert drawer.locator(".history li").count() == 2
    screenshot(page, "author-drawer")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    page.locator("#help").wait_for()
    screenshot(page, "help")
    # Approved by the policy, then hidden by readers' reports: the Reported queue says so.
    hidden = scored_comment("The mayor is wrong again.", scores={"toxicity": 0.02}, reports=3)
    page.goto("/dashboard/queues/reported")
    card = page.locator(f"#comment-{hidden}")
    assert [s.lower() for s in card.locator(".status").all_inner_texts()] == ["approved", "hidden by reports"]
    assert "3 reader reports" in card.locator(".reports").inner_text()
    card.locator("button[data-action=approve]", has_text="Keep").wait_for()
    screenshot(page, "reported-hidden", full_page=True)


def test_bulk_reject_then_undo_by_keyboard(page, make_user, queued_comment, site):
    password = make_user("mod")
    ids = [queued_comment(f"Bulk candidate {n}", toxicity=0.9 - n / 10) for n in range(5)]
    log_in(page, password)
    for _ in range(3):  # select the three riskiest: x, then j
        page.keyboard.press("j")
        page.keyboard.press("x")
    page.select_option("#bulk select[name=code]", "spam")
    page.click("#bulk button[value=reject]")
    page.locator("#bulk-status", has_text="3 rejected").wait_for()
    assert [site.status(i) for i in ids] == ["rejected"] * 3 + ["queued"] * 2
    screenshot(page, "bulk-rejected")
    assert site.get_comment(ids[0]).get_json()["decision"]["reason"] == "rejected (spam)"

    page.keyboard.press("u")  # the most recent decision on the page comes back
    page.locator(f"#comment-{ids[2]}.card").wait_for()
    page.keyboard.press("u")
    page.locator(f"#comment-{ids[1]}.card").wait_for()
    assert [site.status(i) for i in ids] == ["rejected", "queued", "queued", "queued", "queued"]


def test_ban_an_author_from_the_card(page, make_user, queued_comment, site, db):
    password = make_user("mod")
    troll = {"id": "troll-1", "name": "Troll"}
    comment_id = queued_comment("Buy followers now", toxicity=0.9, author=troll)
    also_waiting = queued_comment("Followers, cheap", toxicity=0.4, author=troll)
    other = queued_comment("Unrelated remark.", toxicity=0.3)
    log_in(page, password)
    page.keyboard.press("j")
    page.keyboard.press("b")
    page.locator("#drawer [data-standing=ban]:focus").wait_for()
    # Rejecting their waiting comments is offered, and on unless the moderator unticks it.
    assert page.locator("#drawer input[name=reject_waiting]").is_checked()
    screenshot(page, "ban-offer")
    page.keyboard.press("Enter")
    page.locator("#drawer .flag.bad", has_text="banned").wait_for()
    page.locator("#drawer [role=status]", has_text="Banned; 2 waiting comments rejected.").wait_for()
    page.locator("[data-queue=review]", has_text="1").wait_for()  # the live count followed
    screenshot(page, "author-banned")
    with db.session() as session:
        author = session.get(Comment, comment_id).author
        assert author.banned
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "author.ban")).one()
        assert (entry.actor, entry.target_id) == ("mod", str(author.id))
        rejected = session.scalars(
            select(AuditEntry.target_id).where(
                AuditEntry.action == "comment.rejected", AuditEntry.actor == "mod"
            )
        ).all()
        assert sorted(rejected) == sorted([str(comment_id), str(also_waiting)])
    assert (site.status(comment_id), site.status(also_waiting), site.status(other)) == (
        "rejected",
        "rejected",
        "queued",
    )
    page.locator("#drawer [data-standing=unban]").wait_for()


def test_two_moderators_race_on_one_comment(new_page, make_user, queued_comment, site):
    mod, alice = new_page(), new_page()
    log_in(mod, make_user("mod"))
    log_in(alice, make_user("alice"), "alice")
    comment_id = queued_comment("Contested remark.", toxicity=0.6)
    queued_comment("A milder remark below it.", toxicity=0.3)
    mod.reload()
    alice.reload()
    ready(mod)

    def holder_seen_by_alice() -> str:
        mod.wait_for_timeout(400)
        alice.reload()
        ready(alice)
        return alice.locator(f"#comment-{comment_id} .claim").inner_text()

    mod.keyboard.press("j")  # skimming past a card does not claim it
    mod.locator(f"#comment-{comment_id}:focus").wait_for()
    assert holder_seen_by_alice() == ""
    mod.keyboard.press("r")  # opening its reason picker does
    assert holder_seen_by_alice() == "Being handled by mod"
    screenshot(alice, "claimed-by-another")
    mod.keyboard.press("Escape")
    mod.keyboard.press("j")  # moving on lets go
    assert holder_seen_by_alice() == ""
    mod.keyboard.press("k")
    mod.keyboard.press("a")
    mod.locator(f"#comment-{comment_id}.decided").wait_for()
    alice.keyboard.press("j")
    alice.keyboard.press("r")
    alice.keyboard.press("3")
    refused = alice.locator(f"#comment-{comment_id}.conflict")
    refused.wait_for()
    assert "Already approved by mod — your decision was not applied." in refused.inner_text()
    screenshot(alice, "race-refused")
    decision = site.get_comment(comment_id).get_json()["decision"]
    assert (decision["status"], decision["moderator"]) == ("approved", "mod")


def test_hostile_text_renders_as_text(page, dialogs, make_user, queued_comment):
    password = make_user("mod")
    comment_id = queued_comment(
        XSS,
        article={"id": "x", "title": XSS, "url": "javascript:alert(1)"},
        author={"id": "x", "name": "<img src=x onerror=alert(2)>"},
    )
    log_in(page, password)
    card = page.locator(f"#comment-{comment_id}")
    assert card.locator(".body").inner_text() == XSS
    assert XSS in card.locator(".meta").inner_text()
    page.keyboard.press("j")
    page.keyboard.press("h")
    page.locator("#drawer .author-panel", has_text="<img src=x onerror=alert(2)>").wait_for()
    assert page.locator("#drawer .history li").inner_text().endswith(XSS)
    page.wait_for_timeout(300)
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0 and page.locator("main script").count() == 0


def test_severe_content_is_blurred_until_clicked(page, make_user, queued_comment, scored_comment):
    password = make_user("mod")
    severe = scored_comment(
        "Something truly vile.", scores={"toxicity": 0.99, "threat": 0.95}
    )  # auto-rejected
    log_in(page, password)
    page.click("button:has-text('Blur severe: off')")
    page.goto("/dashboard/queues/auto-rejected")
    card = page.locator(f"#comment-{severe}")
    assert "blurred" in card.get_attribute("class")
    screenshot(page, "blurred")
    card.locator(".body").click()
    assert "blurred" not in card.get_attribute("class")


def test_admin_pages(page, make_user, queued_comment, site):
    password = make_user("root", "admin")
    queued_comment()
    log_in(page, password, "root")
    page.click("nav.sections >> text=Users")
    page.fill("input[name=name]", "newmod")
    page.fill("input[name=password]", "a long password")
    page.click("button:has-text('Create')")
    page.locator(".flash", has_text="Created newmod (moderator).").wait_for()
    screenshot(page, "admin-users", full_page=True)
    page.click("nav.sections >> text=Sites")
    page.fill("input[name=name]", "Evening Star")
    page.click("button:has-text('Create site and key')")
    key = page.locator(".new-key .key").inner_text()
    assert key.startswith("stet_")
    page.fill("textarea[name=banned]", "casin*\nviagr*")
    page.click("button:has-text('Save word lists')")
    page.locator(".flash", has_text="Word lists saved.").wait_for()
    assert page.locator("textarea[name=banned]").input_value() == "casin*\nviagr*"
    page.fill("input[name='threat.queue_at']", "0.03")
    page.fill("input[name='identity_attack.reject_at']", "never")
    page.select_option("select[name=rude]", "approve")
    page.click("button:has-text('Save thresholds')")
    page.locator(".flash", has_text="Thresholds saved.").wait_for()
    assert page.locator("input[name='threat.queue_at']").input_value() == "0.03"
    assert page.locator("input[name='identity_attack.reject_at']").input_value() == "never"
    assert page.locator("select[name=rude]").input_value() == "approve"
    page.fill("input[name=language]", "de")
    page.select_option("select[name=unvalidated_language]", "approve")
    page.click("button:has-text('Save language')")
    page.locator(".flash", has_text="Language saved.").wait_for()
    assert page.locator("input[name=language]").input_value() == "de"
    assert page.locator("select[name=unvalidated_language]").input_value() == "approve"
    screenshot(page, "admin-site", full_page=True)
    page.click("nav.sections >> text=Audit log")
    assert page.locator("table.audit tbody tr").count() >= 4
    screenshot(page, "audit-log", full_page=True)
    page.fill("input[name=action]", "site.words")
    page.keyboard.press("Enter")
    page.wait_for_url("**action=site.words**")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1 and "casin*" in rows.inner_text()


def test_a_moderator_makes_an_api_token_copies_it_once_and_revokes_it(page, make_user, live_server):
    import requests

    log_in(page, make_user("mod"))
    page.get_by_role("link", name="API tokens").click()
    page.fill("input[name=name]", "Slack bot")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("code.key").inner_text()
    assert token.startswith("stetu_")
    screenshot(page, "api-token-new")
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{live_server}/api/v1/moderation/queues", headers=headers).status_code == 200

    page.goto("/dashboard/tokens/")
    assert page.locator("code.key").count() == 0  # shown once
    assert "Slack bot" in page.locator("table").inner_text()
    page.get_by_role("button", name="Revoke").click()
    page.get_by_text("Revoked token").wait_for()
    screenshot(page, "api-token-revoked")
    assert requests.get(f"{live_server}/api/v1/moderation/queues", headers=headers).status_code == 401


def test_removing_a_webhook_asks_first_without_inline_script(page, dialogs, make_user, db, site_key):
    from service import webhooks
    from service.models import Site, Webhook

    with db.session() as session:
        site = session.scalars(select(Site)).one()
        hook = webhooks.add(session, site, "https://hooks.example.org/stet", [], actor="cli")
        session.commit()
        hook_id = hook.id
    log_in(page, make_user("boss", role="admin"), name="boss")
    page.goto(f"/dashboard/webhooks/{hook_id}")
    page.get_by_role("button", name="Remove").click()
    assert dialogs == ["Remove this webhook and its delivery log?"]  # dismissed: nothing removed
    page.wait_for_timeout(300)
    with db.session() as session:
        assert session.get(Webhook, hook_id) is not None


def test_a_new_comment_appears_live_in_risk_order(page, make_user, queued_comment):
    log_in(page, make_user("mod"))
    calm = queued_comment("A calm remark already waiting.", toxicity=0.3)
    page.reload()
    ready(page)
    page.keyboard.press("j")
    page.locator(f"#comment-{calm}:focus").wait_for()
    sharp = queued_comment("A sharper remark that arrives while the page is open.", toxicity=0.8)
    page.locator(f"#comment-{sharp}.arrived").wait_for(timeout=15_000)  # no reload
    order = page.eval_on_selector_all("#cards > .card", "cards => cards.map(c => c.id)")
    assert order == [f"comment-{sharp}", f"comment-{calm}"]  # higher risk first
    assert focused_id(page) == f"comment-{calm}"  # the moderator's place is kept
    assert page.locator("#arrived").inner_text() == "1 new comment"
    page.locator("[data-queue=review]", has_text="2").wait_for()  # the count follows
    screenshot(page, "live-arrival")


@pytest.mark.presentation
def test_the_api_reference_renders_with_examples(page):
    """Swagger UI from the npm registry, served by Stet, under the same CSP (no CDN, no inline script)."""
    page.goto("/api/v1/docs")
    create = page.locator("#operations-comments-comments_create")
    create.wait_for()
    assert page.locator(".opblock").count() > 20
    create.locator(".opblock-summary").click()
    example = create.locator(".body-param__example, .microlight").first
    example.wait_for()
    assert '"body"' in example.inner_text()  # an example request body, from the schema
    screenshot(page, "api-reference", full_page=False)


AXE = Path(__file__).resolve().parents[1] / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
EVERY_PAGE = [
    "/dashboard/login",
    "/dashboard/",
    "/dashboard/queues/all",
    "/dashboard/authors/1",
    "/dashboard/password",
    "/dashboard/tokens/",
    "/dashboard/admin/users/",
    "/dashboard/admin/sites/",
    "/dashboard/admin/sites/1",
    "/dashboard/admin/webhooks/",
    "/dashboard/admin/audit/",
    *(f"/dashboard/reports/{name}" for name in ("volume", "moderation", "queue", "articles", "moderators")),
    *(f"/dashboard/reports/{name}" for name in ("readers", "model")),
]


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now (axe from the npm registry,
    run through the browser's devtools protocol, so the page's CSP need not allow it)."""
    page.evaluate(AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.presentation
def test_every_page_is_accessible_in_light_and_dark_and_fits_a_phone(page, make_user, queued_comment):
    """WCAG AA as axe-core checks it, in the system's light and dark themes, and no page wider
    than a 360 px phone."""
    queued_comment("A remark long enough to wrap on a narrow phone screen, so the card is seen whole.")
    page.goto(EVERY_PAGE[0])
    problems = [f"login: {v}" for v in serious_violations(page)]
    log_in(page, make_user("admin", "admin"), "admin")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for path in EVERY_PAGE[1:]:
            page.goto(path)
            problems += [f"{scheme} {path}: {v}" for v in serious_violations(page)]
            assert page.locator("h1").count() >= 1, f"{path} has no heading"
    page.set_viewport_size({"width": 360, "height": 740})
    for path in EVERY_PAGE[1:]:
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        problems += [f"{path} is {width} px wide at 360 px"] if width > 360 else []
    screenshot(page, "phone-report-model", full_page=True)
    page.goto("/dashboard/")
    screenshot(page, "phone-queue", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size(LAPTOP)
    screenshot(page, "queue-dark")
    assert problems == []


def test_a_two_site_newsroom_with_a_moderator_kept_to_one_site(page, make_user, db, queued_comment):
    """The admin limits a moderator to one site and sets the other's time zone on its page; the
    moderator's queue then holds that site's comments only, each card naming its site."""
    from service import accounts

    with db.session() as session:
        _, post_key = accounts.create_site(session, "Evening Post")
        session.commit()
    queued_comment("A comment on the Daily Planet.")
    queued_comment("A comment on the Evening Post.", key=post_key)
    mod_password = make_user("mod")
    log_in(page, make_user("root", "admin"), "root")
    assert page.locator("select[name=site] option").count() == 3  # all, and the two sites
    page.click("nav.sections >> text=Users")
    mod_row = page.locator("tr", has_text="mod")
    mod_row.get_by_label("Daily Planet").check()
    mod_row.get_by_role("button", name="Save sites").click()
    page.locator(".flash", has_text="mod moderates 1 site").wait_for()
    screenshot(page, "two-sites-users")
    page.click("nav.sections >> text=Sites")
    page.click("text=Evening Post")
    page.fill("input[name=timezone]", "Europe/Berlin")
    page.select_option("select[name=erasure]", "remove")
    page.fill("input[name=report_hide_weight]", "5")
    page.click("button:has-text('Save options')")
    page.locator(".flash", has_text="Site options saved.").wait_for()
    assert page.locator("input[name=timezone]").input_value() == "Europe/Berlin"
    page.fill("input[name=coral_secret]", "whsec_from_coral_admin_0123456789")
    page.fill("input[name=akismet_key]", "abc123def456")
    page.fill("input[name=akismet_blog]", "https://evening-post.example")
    page.click("button:has-text('Save integrations')")
    page.locator(".flash", has_text="Integrations saved.").wait_for()
    screenshot(page, "two-sites-site-settings", full_page=True)
    with db.session() as session:
        post = session.scalar(select(Site).where(Site.name == "Evening Post"))
        assert (post.timezone, post.erasure, post.report_hide_weight) == ("Europe/Berlin", "remove", 5.0)
        assert (post.coral_secret, post.akismet_blog) == (
            "whsec_from_coral_admin_0123456789",
            "https://evening-post.example",
        )
    page.get_by_role("button", name="Log out").click()

    log_in(page, mod_password, "mod")
    cards = page.locator("#cards > .card")
    assert cards.count() == 1 and "Daily Planet" in cards.first.inner_text()
    assert page.locator("[data-queue=review]").inner_text() == "1"
    screenshot(page, "two-sites-scoped-moderator")


@pytest.mark.presentation
def test_chart_colours_are_the_queues_in_both_themes(page, make_user, queued_comment):
    """Approved is the Approve button's colour and rejected the Reject button's, light or dark."""
    queued_comment()
    log_in(page, make_user("root", "admin"), "root")
    colour = "(selector) => getComputedStyle(document.querySelector(selector)).{}"
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto("/dashboard/")
        approve = page.evaluate(colour.format("color"), "button[data-action=approve]")
        reject = page.evaluate(colour.format("color"), "summary.reject, button.reject")
        page.goto("/dashboard/reports/volume")
        lines = page.locator("svg.chart").first.locator("polyline")  # Received, Auto-approved, Auto-rejected…
        assert lines.nth(1).evaluate("line => getComputedStyle(line).stroke") == approve
        assert lines.nth(2).evaluate("line => getComputedStyle(line).stroke") == reject
        screenshot(page, f"volume-{scheme}")
