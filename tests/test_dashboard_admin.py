"""Roles on every route, the admin pages, the author drawer and the queues' filters and pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from service import accounts, moderation
from service.models import ApiKey, AuditEntry, Author, Comment, Site, User
from tests.test_dashboard import HTMX, Dashboard, csrf_token

pytestmark = pytest.mark.usefixtures("fast_passwords")  # many logins; not about the hash

ADMIN_PAGES = ["/dashboard/admin/users/", "/dashboard/admin/sites/", "/dashboard/admin/audit/"]
QUEUE_PAGES = ["/dashboard/", "/dashboard/queues/reported", "/dashboard/counts", "/dashboard/authors/1"]


@pytest.fixture
def login(client, make_user):
    def as_(role: str) -> Dashboard:
        make_user(role, role)
        dash = Dashboard(client)
        assert dash.login(role).status_code == 302
        return dash

    return as_


def form(dash: Dashboard, **data: str) -> dict[str, str]:
    return {"csrf_token": csrf_token(dash.client.get("/dashboard/welcome").text), **data}


@pytest.mark.parametrize("path", ADMIN_PAGES + ["/dashboard/admin/sites/1"])
def test_moderators_and_editors_get_403_on_admin_pages(login, site_key, path):
    for role in ("moderator", "editor"):
        dash = login(role)
        assert dash.client.get(path).status_code == 403
        dash.client.post("/dashboard/logout", data=form(dash))


@pytest.mark.parametrize("path", QUEUE_PAGES)
def test_editors_get_403_on_queues(login, queued_comment, path):
    queued_comment()
    assert login("editor").client.get(path).status_code == 403


def test_editors_land_on_reports_or_a_welcome_page(client, make_user, app):
    make_user("editor", "editor")
    response = Dashboard(client).login("editor")
    expected = (
        "/dashboard/reports/" if "dashboard.reports.index" in app.view_functions else "/dashboard/welcome"
    )
    assert response.headers["Location"].rstrip("/") == expected.rstrip("/")


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/comments/1/undo",
        "/dashboard/comments/bulk",
        "/dashboard/comments/1/claim",
        "/dashboard/authors/1/standing",
        "/dashboard/admin/users/",
        "/dashboard/admin/sites/",
    ],
)
def test_posts_need_a_csrf_token(login, queued_comment, path):
    queued_comment()
    dash = login("admin")
    assert dash.client.post(path, data={}).status_code == 400


def test_admin_pages_render_for_admins(login, site_key):
    dash = login("admin")
    for path in ADMIN_PAGES + ["/dashboard/admin/sites/1"]:
        assert dash.client.get(path).status_code == 200, path
    nav = dash.client.get("/dashboard/").text
    assert "Users" in nav and "Audit log" in nav


def test_admin_creates_changes_and_deactivates_users(login, db):
    dash = login("admin")
    c = dash.client
    assert (
        c.post(
            "/dashboard/admin/users/", data=form(dash, name="ed", role="editor", password="short")
        ).status_code
        == 400
    )
    response = c.post(
        "/dashboard/admin/users/", data=form(dash, name="ed", role="editor", password="long enough")
    )
    assert response.status_code == 302
    with db.session() as session:
        ed = session.scalars(select(User).where(User.name == "ed")).one()
        me = session.scalars(select(User).where(User.name == "admin")).one()
    assert c.post(f"/dashboard/admin/users/{ed.id}", data=form(dash, role="moderator")).status_code == 302
    assert c.post(f"/dashboard/admin/users/{ed.id}", data=form(dash, active="0")).status_code == 302
    refused = c.post(f"/dashboard/admin/users/{me.id}", data=form(dash, active="0"))
    assert refused.status_code == 400 and "one active admin" in refused.text
    assert c.post("/dashboard/admin/users/999", data=form(dash, active="0")).status_code == 404
    with db.session() as session:
        ed = session.get(User, ed.id)
        assert (ed.role, ed.active) == ("moderator", False)
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "admin")).all()
    assert actions == ["user.create", "user.change", "user.change"]


def test_a_new_key_is_shown_once_and_can_be_revoked(login, db, site_key):
    dash = login("admin")
    c = dash.client
    created = c.post("/dashboard/admin/sites/", data=form(dash, name="Evening Star"))
    key = created.text.split('<code class="key">')[1].split("<")[0]
    assert created.status_code == 200 and key.startswith("stet_")
    assert c.post("/dashboard/admin/sites/", data=form(dash, name="Evening Star")).status_code == 400
    with db.session() as session:
        site = session.scalars(select(Site).where(Site.name == "Evening Star")).one()
        key_row = session.scalars(select(ApiKey).where(ApiKey.site_id == site.id)).one()
    page = c.get(f"/dashboard/admin/sites/{site.id}").text
    assert key not in page and key_row.prefix in page  # never shown again
    headers = {"Authorization": f"Bearer {key}"}
    assert c.get("/api/v1/comments/1", headers=headers).status_code == 404  # the key works
    c.post(f"/dashboard/admin/sites/{site.id}/keys/{key_row.id}/revoke", data=form(dash))
    assert c.get("/api/v1/comments/1", headers=headers).status_code == 401
    again = c.post(f"/dashboard/admin/sites/{site.id}/keys/{key_row.id}/revoke", data=form(dash))
    assert again.status_code == 400 and "already revoked" in again.text
    assert c.post(f"/dashboard/admin/sites/1/keys/{key_row.id}/revoke", data=form(dash)).status_code == 404


def test_thresholds_and_word_lists_from_the_site_page(login, db, site_key):
    dash = login("admin")
    c = dash.client
    bad = c.post(
        "/dashboard/admin/sites/1/thresholds", data=form(dash, approve_below="0.9", reject_above="0.5")
    )
    assert bad.status_code == 400 and "lower than" in bad.text
    assert (
        c.post("/dashboard/admin/sites/1/thresholds", data=form(dash, approve_below="x")).status_code == 400
    )
    ok = c.post(
        "/dashboard/admin/sites/1/thresholds", data=form(dash, approve_below="0.1", reject_above="0.9")
    )
    assert ok.status_code == 302
    lists = {"banned": "casin*\nviagr*", "suspect": "crypto", "allowed_domain": "*.example.com"}
    assert c.post("/dashboard/admin/sites/1/words", data=form(dash, **lists)).status_code == 302
    lists["banned"] = "casin*"
    assert c.post("/dashboard/admin/sites/1/words", data=form(dash, **lists)).status_code == 302
    refused = c.post(
        "/dashboard/admin/sites/1/words", data=form(dash, banned="*", suspect="", allowed_domain="")
    )
    assert refused.status_code == 400 and 'name="banned"' in refused.text
    page = c.get("/dashboard/admin/sites/1").text
    assert "casin*</textarea>" in page and "viagr*" not in page and 'value="0.9"' in page
    with db.session() as session:
        site = session.get(Site, 1)
        assert (site.approve_below, site.reject_above) == (0.1, 0.9)
    audit = c.get("/dashboard/admin/audit/?action=site.").text
    assert audit.count("<code>site.words</code>") == 2 and "site.thresholds" in audit


def test_time_zone_erasure_and_report_weight_from_the_site_page(login, db, site_key):
    dash = login("admin")
    options = {"timezone": "Europe/Paris", "erasure": "remove", "report_hide_weight": "4.5"}
    assert dash.client.post("/dashboard/admin/sites/1/options", data=form(dash, **options)).status_code == 302
    refused = dash.client.post(
        "/dashboard/admin/sites/1/options", data=form(dash, **{**options, "timezone": "Paris"})
    )
    assert refused.status_code == 400 and "Time zone: an IANA name" in refused.text
    assert 'value="Paris"' in refused.text  # what the admin typed, to correct
    with db.session() as session:
        site = session.get(Site, 1)
        assert (site.timezone, site.erasure, site.report_hide_weight) == ("Europe/Paris", "remove", 4.5)
    assert "site.options" in dash.client.get("/dashboard/admin/audit/?action=site.").text


def test_an_admin_holds_threats_sooner_and_publishes_rudeness(login, db, site_key, settings):
    dash = login("admin")
    c = dash.client
    bad = c.post("/dashboard/admin/sites/1/thresholds", data=form(dash, **{"threat.queue_at": "soon"}))
    assert bad.status_code == 400 and "Threat queue_at: a number." in bad.text
    upside_down = form(dash, **{"threat.queue_at": "0.95", "threat.reject_at": "0.5"})
    assert c.post("/dashboard/admin/sites/1/thresholds", data=upside_down).status_code == 400
    fields = {"threat.queue_at": "0.05", "identity_attack.reject_at": "never", "rude": "approve"}
    assert c.post("/dashboard/admin/sites/1/thresholds", data=form(dash, **fields)).status_code == 302
    page = c.get("/dashboard/admin/sites/1").text
    assert 'name="threat.queue_at" inputmode="decimal" value="0.05"' in page
    assert 'value="never"' in page and '<option value="approve" selected>' in page
    with db.session() as session:
        rules = moderation.thresholds_for(session.get(Site, 1), settings)
        assert rules.attributes["threat"].queue_at == 0.05
        assert rules.attributes["identity_attack"].reject_at is None
        assert rules.rude == "approve"


def test_audit_log_filters_and_pages(login, queued_comment):
    dash = login("admin")
    token = form(dash)
    for n in range(55):
        dash.client.post(f"/dashboard/comments/{queued_comment(f'c {n}')}/approve", data=token, headers=HTMX)
    first = dash.client.get("/dashboard/admin/audit/?actor=admin")
    assert first.text.count("<code>comment.approved</code>") == 50 and "Older entries" in first.text
    older = first.text.split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    rest = dash.client.get(older, headers=HTMX)
    assert rest.text.count("<code>comment.approved</code>") == 5 and "<html" not in rest.text
    assert "Nothing recorded" in dash.client.get("/dashboard/admin/audit/?actor=nobody").text
    assert dash.client.get("/dashboard/admin/audit/?day=yesterday").status_code == 400
    one = dash.client.get("/dashboard/admin/audit/?target=comment:3").text
    assert one.count("<code>comment.approved</code>") == 1


def test_author_drawer_and_standing(login, queued_comment, db):
    dash = login("moderator")
    queued_comment(author={"id": "reader-9", "name": "Jimmy"})
    with db.session() as session:
        author = session.scalars(select(Author).where(Author.external_id == "reader-9")).one()
    url = f"/dashboard/authors/{author.id}"
    drawer = dash.client.get(url, headers=HTMX)
    assert drawer.status_code == 200 and "<html" not in drawer.text and "Jimmy" in drawer.text
    assert "<html" in dash.client.get(url).text  # without htmx, a page of its own
    post = dash.client.post
    assert (
        post(
            f"{url}/standing", data=form(dash, action="suspend", until="2000-01-01"), headers=HTMX
        ).status_code
        == 400
    )
    assert (
        post(f"{url}/standing", data=form(dash, action="suspend", until="soon"), headers=HTMX).status_code
        == 400
    )
    assert post(f"{url}/standing", data=form(dash, action="explode"), headers=HTMX).status_code == 400
    done = post(f"{url}/standing", data=form(dash, action="suspend", until="2999-01-01"), headers=HTMX)
    assert done.status_code == 200 and "suspended until 1 Jan 2999" in done.text
    assert "always pre-moderated" in post(f"{url}/standing", data=form(dash, action="premoderate")).text
    assert dash.client.get("/dashboard/authors/999").status_code == 404


def test_banning_from_the_drawer_rejects_waiting_comments_unless_unticked(login, queued_comment, site, db):
    dash = login("moderator")
    troll = [queued_comment(f"Troll {n}", author={"id": "troll", "name": "Troll"}) for n in range(2)]
    quiet = queued_comment("Quiet one", author={"id": "quiet"})
    with db.session() as session:
        troll_id, quiet_id = (session.get(Comment, i).author_id for i in (troll[0], quiet))
    drawer = dash.client.get(f"/dashboard/authors/{troll_id}", headers=HTMX).text
    assert re.search(r'name="reject_waiting" value="1" checked> and reject their 2 comments waiting', drawer)
    ticked = form(dash, action="ban", reject_waiting="1")
    done = dash.client.post(f"/dashboard/authors/{troll_id}/standing", data=ticked, headers=HTMX)
    assert done.status_code == 200 and "Banned; 2 waiting comments rejected." in done.text
    assert done.headers["HX-Trigger"] == "stet:decided" and "Lift the ban" in done.text
    assert [site.status(i) for i in troll] == ["rejected", "rejected"]
    decision = site.get_comment(troll[0]).get_json()["decision"]
    assert (decision["by"], decision["moderator"]) == ("moderator", "moderator")
    # Unticked (the box is absent from the form), the ban leaves the queue as it is.
    dash.client.post(f"/dashboard/authors/{quiet_id}/standing", data=form(dash, action="ban"), headers=HTMX)
    assert site.status(quiet) == "queued"
    queue = dash.client.get("/dashboard/").text
    assert f'id="comment-{quiet}"' in queue and f'id="comment-{troll[0]}"' not in queue


def test_queues_filter_sort_and_page(login, scored_comment, queued_comment):
    dash = login("moderator")
    ids = [queued_comment(f"Budget remark {n}", toxicity=0.1 + n / 100) for n in range(30)]
    other = queued_comment(
        "About the bridge", toxicity=0.95, article={"id": "bridge", "title": "Bridge closure"}
    )
    spam = scored_comment("Cheap pills", scores={"toxicity": 0.2, "spam": 0.7})
    auto = scored_comment("Rejected by the model", scores={"toxicity": 0.99, "threat": 0.95})
    reported = scored_comment("Fine but reported", scores={"toxicity": 0.01}, reports=1)

    def card_ids(html: str) -> list[int]:
        return [int(found) for found in re.findall(r'<article class="card[^"]*" id="comment-(\d+)"', html)]

    first = dash.client.get("/dashboard/")
    assert card_ids(first.text)[:3] == [other, spam, ids[-1]] and len(card_ids(first.text)) == 25
    cursor_url = first.text.split('class="more" hx-get="')[1].split('"')[0].replace("&amp;", "&")
    second = dash.client.get(cursor_url, headers=HTMX)
    assert "<html" not in second.text and len(card_ids(second.text)) == 7  # 32 queued in all
    assert set(card_ids(first.text)) | set(card_ids(second.text)) == set(ids) | {other, spam}
    assert card_ids(dash.client.get("/dashboard/?sort=oldest").text)[0] == ids[0]
    assert card_ids(dash.client.get("/dashboard/?article=bridge").text) == [other]
    assert card_ids(dash.client.get("/dashboard/?q=PILLS").text) == [spam]
    assert card_ids(dash.client.get("/dashboard/?label=spam").text) == [spam]
    assert len(card_ids(dash.client.get("/dashboard/?min_risk=0.3&max_risk=0.35").text)) == 6
    assert card_ids(dash.client.get("/dashboard/?author=nobody").text) == []
    assert card_ids(dash.client.get("/dashboard/queues/auto-rejected").text) == [auto]
    assert card_ids(dash.client.get("/dashboard/queues/reported").text) == [reported]
    assert len(card_ids(dash.client.get("/dashboard/queues/all?since=2000-01-01").text)) == 25
    for bad in ("min_risk=2", "since=yesterday", "label=rude", "sort=random", "cursor=r:x:1"):
        response = dash.client.get(f"/dashboard/?{bad}")
        assert response.status_code == 400 and 'role="alert"' in response.text, bad
    assert dash.client.get("/dashboard/queues/nonsense").status_code == 404
    counts = dash.client.get("/dashboard/counts").text
    assert 'data-queue="review">32<' in counts and 'data-queue="auto-rejected">1<' in counts


def test_overturning_a_decision_needs_the_state_the_moderator_saw(login, scored_comment, db):
    dash = login("moderator")
    auto = scored_comment("Rejected by the model", scores={"toxicity": 0.99, "threat": 0.95})
    page = dash.client.get("/dashboard/queues/auto-rejected").text
    seen = page.split('name="seen" value="')[1].split('"')[0]
    blind = dash.client.post(f"/dashboard/comments/{auto}/approve", data=form(dash), headers=HTMX)
    assert blind.status_code == 409 and "Already rejected by the automatic policy" in blind.text
    ok = dash.client.post(f"/dashboard/comments/{auto}/approve", data=form(dash, seen=seen), headers=HTMX)
    assert ok.status_code == 200 and "Approved by moderator" in ok.text
    assert ok.headers["HX-Trigger"] == "stet:decided"
    again = dash.client.post(f"/dashboard/comments/{auto}/approve", data=form(dash, seen=seen), headers=HTMX)
    assert again.status_code == 409 and "Already approved by moderator" in again.text


def test_undoing_an_overturned_auto_rejection_puts_it_back_in_auto_rejected(login, scored_comment):
    dash = login("moderator")
    auto = scored_comment("Rejected by the model", scores={"toxicity": 0.99, "threat": 0.95})
    page = dash.client.get("/dashboard/queues/auto-rejected").text
    seen = page.split('name="seen" value="')[1].split('"')[0]
    ok = dash.client.post(f"/dashboard/comments/{auto}/approve", data=form(dash, seen=seen), headers=HTMX)
    decision = ok.text.split('name="decision" value="')[1].split('"')[0]
    assert f'id="comment-{auto}"' not in dash.client.get("/dashboard/queues/auto-rejected").text
    undone = dash.client.post(
        f"/dashboard/comments/{auto}/undo", data=form(dash, decision=decision), headers=HTMX
    )
    assert undone.status_code == 200 and '<article class="card' in undone.text
    assert '<p class="why"><span>Policy:</span>' in undone.text
    back = dash.client.get("/dashboard/queues/auto-rejected").text
    assert f'id="comment-{auto}"' in back and '<p class="why"><span>Policy:</span>' in back
    assert 'data-queue="auto-rejected">1<' in dash.client.get("/dashboard/counts").text


def test_reject_needs_a_reason_and_undo_goes_back(login, queued_comment):
    dash = login("moderator")
    comment_id = queued_comment()
    no_code = dash.client.post(f"/dashboard/comments/{comment_id}/reject", data=form(dash), headers=HTMX)
    assert no_code.status_code == 400 and "Choose a reason" in no_code.text and 'class="card' in no_code.text
    other = dash.client.post(
        f"/dashboard/comments/{comment_id}/reject", data=form(dash, code="other"), headers=HTMX
    )
    assert other.status_code == 400 and "Say why" in other.text
    done = dash.client.post(
        f"/dashboard/comments/{comment_id}/reject", data=form(dash, code="hate_speech"), headers=HTMX
    )
    assert "Rejected by moderator" in done.text and "Undo" in done.text
    decision = done.text.split('name="decision" value="')[1].split('"')[0]
    undone = dash.client.post(
        f"/dashboard/comments/{comment_id}/undo", data=form(dash, decision=decision), headers=HTMX
    )
    assert undone.status_code == 200 and 'class="card' in undone.text and "queued" in undone.text
    twice = dash.client.post(
        f"/dashboard/comments/{comment_id}/undo", data=form(dash, decision=decision), headers=HTMX
    )
    assert twice.status_code == 409
    assert (
        dash.client.post(f"/dashboard/comments/{comment_id}/undo", data=form(dash, decision="x")).status_code
        == 400
    )


def test_bulk_decides_each_selected_comment_once(login, queued_comment, site):
    dash = login("moderator")
    ids = [queued_comment(f"bulk {n}") for n in range(3)]
    picks = [f"{i}:queued|" for i in ids]
    data = {**form(dash, action="reject", code="spam"), "pick": picks}
    response = dash.client.post("/dashboard/comments/bulk", data=data, headers=HTMX)
    assert response.text.startswith("3 rejected") and response.text.count('hx-swap-oob="true"') == 3
    again = dash.client.post("/dashboard/comments/bulk", data={**data, "action": "approve"}, headers=HTMX)
    assert (
        again.text.startswith("0 approved, 3 not applied") and "already rejected by moderator" in again.text
    )
    assert [site.status(i) for i in ids] == ["rejected"] * 3
    none = dash.client.post("/dashboard/comments/bulk", data=form(dash, action="approve"), headers=HTMX)
    assert "Select comments first" in none.text
    no_code = dash.client.post(
        "/dashboard/comments/bulk", data={**form(dash, action="reject"), "pick": picks}
    )
    assert no_code.status_code == 302  # a plain post: back to the queue with the message
    assert dash.client.post("/dashboard/comments/bulk", data=form(dash, action="nuke")).status_code == 400


def test_claims_show_who_handles_a_comment(client, make_user, queued_comment):
    comment_id = queued_comment()
    make_user("mod")
    make_user("alice")
    mod = Dashboard(client)
    mod.login("mod")
    assert (
        mod.client.post(f"/dashboard/comments/{comment_id}/claim", data=form(mod), headers=HTMX)
        .text.strip()
        .endswith("></span>")
    )
    mod.client.post("/dashboard/logout", data=form(mod))
    mod.login("alice")
    claimed = mod.client.post(f"/dashboard/comments/{comment_id}/claim", data=form(mod), headers=HTMX)
    assert "Being handled by mod" in claimed.text
    assert "Being handled by mod" in mod.queue().text
    # alice cannot release mod's claim; mod can, by moving on
    mod.client.post(f"/dashboard/comments/{comment_id}/claim", data=form(mod, release="1"), headers=HTMX)
    assert "Being handled by mod" in mod.queue().text
    mod.client.post("/dashboard/logout", data=form(mod))
    mod.login("mod")
    mod.client.post(f"/dashboard/comments/{comment_id}/claim", data=form(mod, release="1"), headers=HTMX)
    assert "Being handled by" not in mod.queue().text


def test_blur_preference_marks_severe_cards(login, scored_comment):
    dash = login("moderator")
    scored_comment("Vile", scores={"toxicity": 0.99, "threat": 0.95})
    assert "card blurred" not in dash.client.get("/dashboard/queues/auto-rejected").text
    dash.client.post("/dashboard/preferences/blur", data=form(dash))
    assert "card blurred" in dash.client.get("/dashboard/queues/auto-rejected").text


def test_a_moderator_scoped_to_one_site_sees_and_acts_on_that_site_only(
    client, make_user, db, site_key, queued_comment
):
    with db.session() as session:
        _, other_key = accounts.create_site(session, "Evening Post")
        session.commit()
    ours = queued_comment("On the Gazette's story.")
    theirs = queued_comment("On the Evening Post's story.", key=other_key)
    make_user("admin", "admin")
    make_user("mod")
    admin = Dashboard(client)
    admin.login("admin")
    both = admin.queue().text
    assert "On the Gazette" in both and "On the Evening Post" in both
    assert '<span class="site">Evening Post</span>' in both and 'name="site"' in both  # filter and cards
    only_post = admin.client.get("/dashboard/?site=2").text
    assert "On the Evening Post" in only_post and "On the Gazette" not in only_post
    assert admin.client.post("/dashboard/admin/users/2/sites", data=form(admin, site="1")).status_code == 302
    assert "<code>user.sites</code>" in admin.client.get("/dashboard/admin/audit/?action=user.").text

    admin.client.post("/dashboard/logout", data=form(admin))
    mod = Dashboard(client)
    mod.login("mod")
    page = mod.queue().text
    assert "On the Gazette" in page and "On the Evening Post" not in page
    assert '<span class="count" data-queue="review">1</span>' in page  # counts: the moderator's sites
    arrived = mod.client.get("/dashboard/queues/review/arrivals?after=0").text  # the live queue's poll
    assert f'id="comment-{ours}"' in arrived and f'id="comment-{theirs}"' not in arrived
    assert mod.client.get("/dashboard/queues/review/arrivals?after=x").status_code == 400
    assert mod.decide(theirs).status_code == 404  # not a site they moderate: not found
    assert mod.client.get("/dashboard/authors/2").status_code == 404
    assert mod.decide(ours).status_code == 200


def test_people_change_their_password_and_admins_reset_others(client, make_user, db):
    make_user("admin", "admin")
    make_user("mod")
    mod = Dashboard(client)
    mod.login("mod")
    page = mod.client.get("/dashboard/password")
    assert page.status_code == 200 and "<h1>Change your password</h1>" in page.text
    data = {"csrf_token": csrf_token(page.text), "name": "mod"}
    wrong = mod.client.post(
        "/dashboard/password", data={**data, "current": "nope", "new": "n" * 9, "repeat": "n" * 9}
    )
    assert wrong.status_code == 401 and "current password is not that" in wrong.text
    differ = mod.client.post(
        "/dashboard/password",
        data={**data, "current": "correct horse battery", "new": "n" * 9, "repeat": "m" * 9},
    )
    assert differ.status_code == 400 and "differ" in differ.text
    done = mod.client.post(
        "/dashboard/password",
        data={
            **data,
            "current": "correct horse battery",
            "new": "a new long one",
            "repeat": "a new long one",
        },
    )
    assert done.status_code == 302 and mod.client.get("/dashboard/").status_code == 302  # logged out
    assert mod.login("mod", "a new long one").status_code == 302

    admin = Dashboard(client.application.test_client())
    assert admin.login("admin").status_code == 302, "admin logs in"
    assert admin.client.get("/dashboard/admin/users/").status_code == 200
    reset = admin.client.post(
        "/dashboard/admin/users/2/password", data=form(admin, new_password="temporary pass 1")
    )
    assert reset.status_code == 302
    assert mod.client.get("/dashboard/").status_code == 302  # mod's session ended with the reset
    assert mod.login("mod", "temporary pass 1").status_code == 302
    short = admin.client.post("/dashboard/admin/users/2/password", data=form(admin, new_password="short"))
    assert short.status_code == 400 and "at least 8" in short.text
    assert "<code>user.password</code>" in admin.client.get("/dashboard/admin/audit/?action=user.").text


def test_queue_dates_are_the_sites_days_with_the_zone_named(login, db, queued_comment):
    from datetime import UTC, datetime

    comment_id = queued_comment("Posted late in the evening, UTC.")
    with db.session() as session:
        session.get(Site, 1).timezone = "Pacific/Auckland"  # 13 hours ahead of UTC in March
        session.get(Comment, comment_id).created_at = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)
        session.commit()
    dash = login("moderator")
    page = dash.client.get("/dashboard/?since=2026-03-10&until=2026-03-10").text
    assert "Posted late in the evening" in page  # 10 March in Auckland
    assert "10 Mar 2026, 12:30 NZDT" in page and "(Pacific/Auckland)" in page
    assert "Posted late" not in dash.client.get("/dashboard/?until=2026-03-09").text
