"""Editor reports on a known history, checked figure by figure against hand-computed values.

The site is in America/New_York and the period (6-9 March 2026, local days) spans the start of
daylight-saving time (8 March, 02:00 EST -> 03:00 EDT), so local days begin at 05:00 UTC until the
8th and at 04:00 UTC from the 9th. Every comment is listed with its UTC and local time.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from service import accounts
from service.models import Article, Author, Comment, Decision, Feedback, Reason, Report, Role, Score, User
from service.reporting import articles as articles_report

RANGE = {"from": "2026-03-06", "to": "2026-03-09"}
DAYS = ["2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# id, UTC arrival, article, toxicity, spam, auto status, auto category, moderator decision, body
COMMENTS = [
    (
        100,
        "2026-03-06 04:59",
        "budget",
        0.02,
        0.01,
        "approved",
        "clean",
        None,
        "Before the period.",
    ),  # 5 Mar 23:59 EST
    (1, "2026-03-07 04:30", "budget", 0.02, 0.01, "approved", "clean", None, "Fine work."),  # 6 Mar 23:30 EST
    (
        2,
        "2026-03-07 05:30",
        "budget",
        0.50,
        0.01,
        "queued",
        "uncertain",
        ("mod1", "approved", "2026-03-07 05:40"),
        "Hmm.",
    ),  # 7 Mar 00:30 EST
    (3, "2026-03-08 06:30", "budget", 0.99, 0.01, "rejected", "toxic", None, "Awful."),  # 8 Mar 01:30 EST
    (
        4,
        "2026-03-08 07:30",
        "derby",
        0.90,
        0.02,
        "queued",
        "threat",
        ("mod1", "rejected", "2026-03-08 08:30"),
        "Rude.",
    ),  # 8 Mar 03:30 EDT
    (
        5,
        "2026-03-09 03:30",
        "derby",
        0.30,
        0.05,
        "queued",
        "uncertain",
        ("mod2", "approved", "2026-03-09 04:10"),
        "My Muslim neighbours agree.",
    ),  # 8 Mar 23:30 EDT
    (
        6,
        "2026-03-09 04:30",
        "derby",
        0.60,
        0.02,
        "queued",
        "uncertain",
        None,
        "Gaylord scored twice.",
    ),  # 9 Mar 00:30
    (
        7,
        "2026-03-09 04:35",
        "budget",
        0.20,
        0.60,
        "queued",
        "spam",
        ("mod1", "rejected", "2026-03-09 04:40"),
        "Buy now.",
    ),
    (
        8,
        "2026-03-09 04:36",
        "budget",
        0.40,
        0.01,
        "queued",
        "uncertain",
        ("mod1", "approved", "2026-03-09 04:45"),
        "As a gay reader I liked it.",
    ),
]
REPORTS = [  # comment, reason, UTC time, resolution
    (1, "offensive", "2026-03-07 04:00", "dismissed"),  # 6 Mar 23:00 EST
    (8, "abusive", "2026-03-09 04:40", None),
    (4, "offensive", "2026-03-08 08:00", "upheld"),
    (1, "spam", "2026-03-10 05:00", None),  # 10 Mar 01:00 EDT: after the period
]
FEEDBACK = [  # category, article, UTC time, message
    ("cannot_post", "budget", "2026-03-07 15:00", "Button does nothing"),
    ("cannot_post", "derby", "2026-03-09 12:00", "Spinner forever"),
    ("login", None, "2026-03-08 12:00", "Cannot log in"),
    ("login", None, "2026-03-11 12:00", "After the period"),
]


@pytest.fixture
def history(db, make_user):
    """The seeded site; returns its API key."""
    for name in ("mod1", "mod2"):
        make_user(name, "moderator")
    make_user("editor", "editor")
    make_user("boss", "admin")
    with db.session() as session:
        site, key = accounts.create_site(session, "Daily Planet")
        site.timezone = "America/New_York"
        session.flush()
        users = {u.name: u.id for u in session.query(User)}
        stories = {
            "budget": Article(
                site_id=site.id,
                external_id="budget",
                title="City budget",
                section="politics",
                url="https://planet.example/budget",
                approve_below=0.45,
            ),
            "derby": Article(
                site_id=site.id,
                external_id="derby",
                title="Derby day",
                section="sport",
                url="https://planet.example/derby",
                reject_above=0.85,
            ),
        }
        author = Author(site_id=site.id, external_id="reader")
        session.add_all([*stories.values(), author])
        session.flush()
        for cid, arrived, story, toxicity, spam, auto, category, person, body in COMMENTS:
            created = at(arrived)
            status = person[1] if person else auto
            session.add(
                Comment(
                    id=cid,
                    site_id=site.id,
                    article_id=stories[story].id,
                    author_id=author.id,
                    body=body,
                    status=status,
                    created_at=created,
                    risk=max(toxicity, spam),
                )
            )
            session.flush()
            scored = created + timedelta(seconds=5)
            session.add_all(
                [
                    Score(
                        comment_id=cid,
                        scorer="linear",
                        model_version="1",
                        label="toxicity",
                        value=toxicity,
                        created_at=scored,
                    ),
                    Score(
                        comment_id=cid,
                        scorer="linear",
                        model_version="1",
                        label="spam",
                        value=spam,
                        created_at=scored,
                    ),
                    Decision(
                        comment_id=cid,
                        from_status="pending",
                        status=auto,
                        by="auto",
                        reason=category,
                        details={"category": category},
                        created_at=scored,
                    ),
                ]
            )
            if person:
                session.add(
                    Decision(
                        comment_id=cid,
                        from_status="queued",
                        status=person[1],
                        by="moderator",
                        user_id=users[person[0]],
                        reason="",
                        created_at=at(person[2]),
                    )
                )
        for cid, code in ((3, "insult"), (4, "insult"), (7, "links")):
            session.add(
                Reason(
                    comment_id=cid,
                    scorer="linear",
                    model_version="1",
                    code=code,
                    weight=1.0,
                    detail=code,
                    spans=[],
                )
            )
        for i, (cid, reason, when, resolution) in enumerate(REPORTS):
            session.add(
                Report(
                    site_id=site.id,
                    comment_id=cid,
                    reporter_id=f"r{i}",
                    reason=reason,
                    created_at=at(when),
                    resolution=resolution,
                )
            )
        for category, story, when, message in FEEDBACK:
            session.add(
                Feedback(
                    site_id=site.id,
                    article_id=stories[story].id if story else None,
                    category=category,
                    message=message,
                    created_at=at(when),
                )
            )
        session.commit()
    return key


class Dashboard:
    def __init__(self, client):
        self.client = client

    def log_in(self, name: str) -> None:
        response = self.client.post(
            "/dashboard/login", data={"name": name, "password": "correct horse battery"}
        )
        assert response.status_code == 302

    def table(self, report: str, table: str, **args) -> list[list[str]]:
        response = self.client.get(
            f"/dashboard/reports/{report}.csv", query_string={**RANGE, "table": table, **args}
        )
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/csv"
        return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def dashboard(app, client, history):
    app.config["WTF_CSRF_ENABLED"] = False
    board = Dashboard(client)
    board.log_in("boss")
    return board


def api(client, key, name, **args):
    response = client.get(
        f"/api/v1/reports/{name}", query_string={**RANGE, **args}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.data
    return response.get_json()


def test_volume_per_local_day_across_the_dst_change(dashboard, client, history):
    rows = dashboard.table("volume", "volume")
    assert rows == [
        [
            "Bucket",
            "Received",
            "Auto-approved",
            "Auto-rejected",
            "Queued",
            "Decided by moderators",
            "Reported by readers",
        ],
        ["2026-03-06", "1", "1", "0", "0", "0", "1"],
        ["2026-03-07", "1", "0", "0", "1", "1", "0"],
        ["2026-03-08", "3", "0", "1", "2", "1", "1"],
        ["2026-03-09", "3", "0", "0", "3", "3", "1"],
    ]
    body = api(client, history, "volume")
    assert body["zone"] == "America/New_York" and body["bucket"] == "day"
    assert body["tables"]["volume"]["rows"] == [[r[0], *map(int, r[1:])] for r in rows[1:]]
    assert body["figures"] == {
        "Received": 8,
        "Auto-approved": 1,
        "Auto-rejected": 1,
        "Queued": 6,
        "Decided by moderators": 5,
        "Reported by readers": 3,
    }


def test_volume_by_hour_has_23_hours_on_the_spring_forward_day(dashboard):
    rows = dashboard.table("volume", "volume", **{"from": "2026-03-08", "to": "2026-03-08", "bucket": "hour"})
    assert len(rows) - 1 == 23
    received = {row[0]: row[1] for row in rows[1:] if row[1] != "0"}
    # c3 at 01:30 EST, c4 at 03:30 EDT, c5 at 23:30 EDT; there is no 02:00 hour that day.
    assert received == {"Sun 08 01:00 EST": "1", "Sun 08 03:00 EDT": "1", "Sun 08 23:00 EDT": "1"}


def test_toxicity_and_spam(dashboard):
    assert dashboard.table("moderation", "labels") == [
        [
            "Label",
            "Approve below",
            "Reject above",
            "Scored",
            "Not approved",
            "Share not approved",
            "Over reject above",
            "Share over reject above",
        ],
        ["spam", "0.5", "0.95", "8", "1", "0.125", "0", "0.0"],
        ["toxicity", "0.08", "0.97", "8", "7", "0.875", "1", "0.125"],
    ]
    assert dashboard.table("moderation", "reasons") == [
        ["Reason", "Comments", "Share of comments"],
        ["insult", "2", "0.25"],
        ["links", "1", "0.125"],
    ]


def test_queue_backlog_and_time_to_decision(dashboard, client, history):
    assert dashboard.table("queue", "backlog") == [
        ["Bucket", "Waiting"],
        ["2026-03-06", "0"],
        ["2026-03-07", "0"],
        ["2026-03-08", "1"],
        ["2026-03-09", "1"],
    ]
    assert dashboard.table("queue", "waits")[1:] == [
        ["under 5 min", "0"],
        ["5–15 min", "3"],
        ["15–60 min", "1"],
        ["1–4 h", "1"],
        ["4–24 h", "0"],
        ["over a day", "0"],
    ]
    figures = api(client, history, "queue")["figures"]
    # waits 300, 540, 600, 2400, 3600 s: nearest-rank median is the 3rd, the 90th percentile the 5th
    assert figures["Waiting now"] == 1 and figures["Decided by moderators"] == 5
    assert figures["Median minutes to decision"] == 10.0
    assert figures["90th percentile minutes to decision"] == 60.0
    oldest = dashboard.table("queue", "oldest")
    assert oldest[1][0] == "6" and oldest[1][1] == "2026-03-09 00:30 EDT" and oldest[1][3] == "Derby day"
    hours = (datetime.now(UTC) - at("2026-03-09 04:30")).total_seconds() / 3600
    assert abs(float(oldest[1][2]) - hours) <= 0.2


def test_articles(dashboard, monkeypatch):
    header = [
        "Article",
        "Section",
        "Comments",
        "Approved",
        "Rejected",
        "Rejection rate",
        "Reader reports",
        "URL",
    ]
    budget = ["City budget", "politics", "5", "3", "2", "", "2", "https://planet.example/budget"]
    derby = ["Derby day", "sport", "3", "1", "1", "", "1", "https://planet.example/derby"]
    assert dashboard.table("articles", "most_commented") == [header, budget, derby]
    assert dashboard.table("articles", "most_reported") == [header, budget, derby]
    assert dashboard.table("articles", "rejection_rate") == [header]  # fewer than 10 decided each
    monkeypatch.setattr(articles_report, "MIN_DECIDED", 2)
    budget[5], derby[5] = "0.4", "0.5"
    assert dashboard.table("articles", "rejection_rate") == [header, derby, budget]
    page = dashboard.client.get("/dashboard/reports/articles", query_string=RANGE).get_data(as_text=True)
    assert '<a href="https://planet.example/budget">City budget</a>' in page


def test_moderators(dashboard):
    assert dashboard.table("moderators", "moderators") == [
        [
            "Moderator",
            "Decisions",
            "Approved",
            "Rejected",
            "Median handling seconds",
            "Overturned",
            "Overturn rate",
        ],
        ["mod1", "4", "2", "2", "300", "1", "0.25"],
        ["mod2", "1", "1", "0", "", "0", "0.0"],
    ]


def test_readers_reports_and_problems(dashboard):
    assert dashboard.table("readers", "reports") == [
        ["Reason", "Reports", "Upheld", "Dismissed", "Open", "Share upheld"],
        ["offensive", "2", "1", "1", "0", "0.5"],
        ["abusive", "1", "0", "0", "1", ""],
        ["spam", "0", "0", "0", "0", ""],
        ["off_topic", "0", "0", "0", "0", ""],
        ["other", "0", "0", "0", "0", ""],
    ]
    assert dashboard.table("readers", "problems") == [
        ["Category", "Reports"],
        ["cannot_post", "2"],
        ["login", "1"],
    ]
    assert dashboard.table("readers", "problem_articles") == [
        ["Article", "Reports", "URL"],
        ["City budget", "1", "https://planet.example/budget"],
        ["Derby day", "1", "https://planet.example/derby"],
    ]
    assert [row[:4] for row in dashboard.table("readers", "problems_newest")] == [
        ["When", "Category", "Article", "Message"],
        ["2026-03-09 08:00 EDT", "cannot_post", "Derby day", "Spinner forever"],
        ["2026-03-08 08:00 EDT", "login", "", "Cannot log in"],
        ["2026-03-07 10:00 EST", "cannot_post", "City budget", "Button does nothing"],
    ]


def test_sections_and_articles_narrow_every_report(dashboard, client, history):
    sport = dashboard.table("volume", "volume", section="sport")
    assert [row[1] for row in sport[1:]] == ["0", "0", "2", "1"]
    derby = api(client, history, "readers", article="derby")
    assert derby["tables"]["reports"]["rows"][0] == ["offensive", 1, 1, 0, 0, 1.0]
    assert derby["article"] == "derby"


def test_model_against_moderators(dashboard):
    assert dashboard.table("model", "agreement") == [
        [
            "Label",
            "Section",
            "Decided",
            "Would approve",
            "Would reject",
            "Would queue",
            "Approve precision",
            "Approve recall",
            "Reject precision",
            "Reject recall",
        ],
        ["spam", "all sections", "5", "4", "0", "1", "0.75", "1.0", "", "0.0"],
        ["spam", "politics", "3", "2", "0", "1", "1.0", "1.0", "", "0.0"],
        ["spam", "sport", "2", "2", "0", "0", "0.5", "1.0", "", "0.0"],
        ["toxicity", "all sections", "5", "2", "1", "2", "0.5", "0.3333", "1.0", "0.5"],
        ["toxicity", "politics", "3", "2", "0", "1", "0.5", "0.5", "", "0.0"],
        ["toxicity", "sport", "2", "0", "1", "1", "", "0.0", "1.0", "1.0"],
    ]
    assert dashboard.table("model", "outcomes")[1:] == [["spam", "4", "1", "0"], ["toxicity", "2", "2", "1"]]
    page = dashboard.client.get("/dashboard/reports/model", query_string=RANGE).text
    assert "<title>What the model would have done, per label</title>" in page  # the page has its chart


def test_model_against_moderators_with_a_threshold_between_hundredths(dashboard, db):
    """Derby's reject threshold moved from 0.85 to 0.8999999: off the rollup's 0.01 buckets, so the
    decisions' own scores are compared; no derby comment scores in between, so nothing changes."""
    before = dashboard.table("model", "agreement")
    with db.session() as session:
        session.scalar(select(Article).where(Article.external_id == "derby")).reject_above = 0.8999999
        session.commit()
    assert dashboard.table("model", "agreement") == before


def test_model_figures(client, history):
    assert api(client, history, "model")["figures"] == {
        "Moderator decisions": 5,
        "Toxicity reject precision": 1.0,
        "Toxicity reject recall": 0.5,
    }


def test_threshold_simulator(dashboard, client, history):
    rows = dashboard.table("model", "simulation", approve_below="0.45", reject_above="0.45")
    assert rows == [
        ["Change", "Effect", "Comments", "Per day", "Moderators disagreed", "How"],
        [
            "auto-reject at 0.45 instead of 0.97",
            "at most this many fewer queued (those held for a threat, hate or harassment at 0.5+)",
            "1",  # comment 4 (threat); comments 2 and 6 were only uncertain
            "0.2",
            "0",
            "approved by your moderators",
        ],
        [
            "auto-approve below 0.45 instead of 0.08",
            "fewer queued",
            "2",
            "0.5",
            "0",
            "rejected by your moderators",
        ],
    ]
    more = api(client, history, "model", reject_above="0.995")["tables"]["simulation"]["rows"]
    assert more == [["auto-reject at 0.995 instead of 0.97", "more queued", 1, 0.2, None, ""]]
    fragment = dashboard.client.get(
        "/dashboard/reports/model",
        query_string={**RANGE, "part": "simulation", "reject_above": "0.45"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div class="report-table" id="simulation-table">')
    assert "auto-reject at 0.45 instead of 0.97" in fragment


def test_threshold_simulator_for_a_dangerous_attribute(dashboard, client, history, db):
    """Moving a threat rule: the comments the model held for a threat, approved or queued on either
    side of the new score, and what the moderators later did with them."""
    with db.session() as session:  # threat scores: comment 1 approved, 2 queued (approved later),
        for cid, threat in ((1, 0.02), (2, 0.005), (4, 0.6)):  # 4 held for a threat, rejected later
            scored = session.get(Comment, cid).created_at + timedelta(seconds=5)
            session.add(
                Score(comment_id=cid, scorer="linear", model_version="1", label="threat", value=threat,
                      created_at=scored)
            )  # fmt: skip
        session.commit()
    held = api(client, history, "model", threat_queue_at="0.01", threat_reject_at="0.5")
    assert held["tables"]["simulation"]["rows"] == [
        ["hold for threat from 0.01 instead of 0.03", "more queued", 1, 0.2, None, ""],  # comment 1
        ["reject for threat at 0.5 instead of 0.9", "fewer queued", 1, 0.2, 0, "approved by your moderators"],
    ]
    looser = dashboard.table("model", "simulation", threat_queue_at="0.7", threat_reject_at="")
    assert looser[1:] == [
        [
            "hold for threat from 0.7 instead of 0.03",
            "fewer held for threat (the other rules decide them)",
            "1",
            "0.2",
            "1",  # the moderators rejected comment 4
            "rejected by your moderators",
        ]
    ]
    page = dashboard.client.get("/dashboard/reports/model", query_string=RANGE).get_data(as_text=True)
    assert 'name="threat_queue_at"' in page and 'name="identity_attack_reject_at"' in page
    bad = client.get(
        "/api/v1/reports/model",
        query_string={**RANGE, "threat_queue_at": "0.95"},  # above its reject_at (0.9)
        headers={"Authorization": f"Bearer {history}"},
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "threat_queue_at", bad.get_json()


def test_identity_monitor(dashboard):
    assert dashboard.table("model", "identity") == [
        [
            "Comments",
            "Received",
            "Held by the model",
            "Hold rate",
            "Held and decided by a person",
            "Approved by a person",
            "Overturn rate",
        ],
        ["Mentions an identity group", "2", "2", "1.0", "2", "2", "1.0"],  # c5 "Muslim", c8 "gay"
        ["Does not", "6", "5", "0.8333", "3", "1", "0.3333"],  # "Gaylord" is no mention
    ]


@pytest.mark.parametrize(
    "args, field",
    [
        ({"from": "2026-13-01"}, "from"),
        ({"range": "year"}, "range"),
        ({"bucket": "minute"}, "bucket"),
        ({"article": "nope"}, "article"),
        ({"reject_above": "2"}, "reject_above"),
        ({"from": "2026-03-09", "to": "2026-03-01"}, "to"),
    ],
)
def test_bad_arguments_are_422_in_the_api_and_a_message_in_the_dashboard(
    dashboard, client, history, args, field
):
    response = client.get(
        "/api/v1/reports/model", query_string=args, headers={"Authorization": f"Bearer {history}"}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field
    page = dashboard.client.get("/dashboard/reports/model", query_string=args)
    assert page.status_code == 400 and 'role="alert"' in page.get_data(as_text=True)


def test_api_needs_a_key_and_hides_the_moderators_report(client, history):
    assert client.get("/api/v1/reports/volume").status_code == 401
    headers = {"Authorization": f"Bearer {history}"}
    assert client.get("/api/v1/reports", headers=headers).get_json()["reports"] == [
        "volume",
        "moderation",
        "queue",
        "articles",
        "readers",
        "model",
    ]
    assert client.get("/api/v1/reports/moderators", headers=headers).status_code == 404


def test_a_key_reports_only_on_its_own_site(db, client, history):
    with db.session() as session:
        _other, key = accounts.create_site(session, "Other Gazette")
        session.commit()
    body = api(client, key, "volume")
    assert body["site"] == "Other Gazette" and body["figures"]["Received"] == 0


@pytest.mark.parametrize(
    "who, path, status",
    [
        ("editor", "/dashboard/reports/", 200),
        ("editor", "/dashboard/reports/model", 200),
        ("editor", "/dashboard/reports/moderators", 403),
        ("editor", "/dashboard/reports/moderators.csv", 403),
        ("boss", "/dashboard/reports/moderators", 200),
        ("mod1", "/dashboard/reports/", 403),
        ("mod1", "/dashboard/reports/volume.csv", 403),
        (None, "/dashboard/reports/", 302),
    ],
)
def test_who_sees_which_report(app, client, history, who, path, status):
    app.config["WTF_CSRF_ENABLED"] = False
    if who:
        Dashboard(client).log_in(who)
    response = client.get(path, query_string=RANGE)
    assert response.status_code == status
    if who is None:
        assert "/dashboard/login" in response.headers["Location"]
    if who == "editor" and status == 200:
        assert ">Moderators<" not in response.get_data(as_text=True)


def test_stet_user_create_makes_an_editor(settings, db):
    from click.testing import CliRunner

    from service.app.cli import cli

    env = {"STET_DATABASE_URL": settings.sqlalchemy_url, "STET_HOME": str(settings.home)}
    result = CliRunner().invoke(
        cli, ["user", "create", "lois", "--role", "editor"], input="long enough pw\n", env=env
    )
    assert result.exit_code == 0, result.output
    with db.session() as session:
        assert session.query(User).filter_by(name="lois").one().role == Role.EDITOR.value


def test_weekly_digest_compares_last_week_with_the_week_before(db, settings, history, tmp_path):
    from datetime import date

    from click.testing import CliRunner
    from sqlalchemy import select

    from dashboard import digest
    from service.app.cli import cli
    from service.models import Site

    with db.session() as session:
        site = session.scalar(select(Site))
        html = digest.weekly(session, site, settings, today=date(2026, 3, 11))
    assert "2026-03-02 to 2026-03-08 against 2026-02-23 to 2026-03-01 (America/New_York)" in html
    assert '<tr><td>Received</td><td class="num">6</td><td class="num">0</td>' in html.replace("\n      ", "")
    days = [
        cells.split("</tr>")[0] for cells in html.split("<tr>") if cells.startswith(("<td>Thu", "<td>Sun"))
    ]
    assert days == [
        '<td>Thu</td><td class="num">1</td><td class="num">0</td>',
        '<td>Sun</td><td class="num">3</td><td class="num">0</td>',
    ]
    out = tmp_path / "weekly.html"
    env = {"STET_DATABASE_URL": settings.sqlalchemy_url, "STET_HOME": str(settings.home)}
    result = CliRunner().invoke(
        cli, ["report", "weekly", "--site", "Daily Planet", "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<svg" in page and "<style>" in page and "<script" not in page and "<link" not in page
    missing = CliRunner().invoke(cli, ["report", "weekly", "--site", "Nope"], env=env)
    assert missing.exit_code == 1 and "no site named 'Nope'" in missing.output


def test_reports_open_on_the_busiest_site_not_the_first_by_name(dashboard, db):
    with db.session() as session:
        accounts.create_site(session, "Aardvark Weekly")  # first in the alphabet, no comments
        session.commit()
    page = dashboard.client.get("/dashboard/reports/").text
    assert re.search(r'<option value="\d+" selected>Daily Planet</option>', page), "opens on the busy site"
