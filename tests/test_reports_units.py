"""The reports' building blocks: local buckets across daylight-saving changes, the SVG charts and the
identity flag."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine, insert, select, text

from dashboard import charts
from service.migrate import upgrade
from service.models import Comment
from service.reporting.period import Period, PeriodError, parse_period
from service.reporting.result import Chart, Table

NY = ZoneInfo("America/New_York")
MIGRATION_0004 = importlib.import_module(
    "service.migrations.versions.0004_reports_webhooks_audit_and_settings"
)


@pytest.mark.parametrize(
    "day, hours", [(date(2026, 3, 8), 23), (date(2026, 11, 1), 25), (date(2026, 6, 1), 24)]
)
def test_a_local_day_has_the_hours_the_clock_shows(day, hours):
    assert len(Period(day, day, NY, "hour").buckets()) == hours


def test_quarter_hour_slots_fold_into_local_days_weeks_and_half_hour_zones():
    slot = lambda text: int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) // 900  # noqa: E731
    days = Period(date(2026, 3, 6), date(2026, 3, 9), NY, "day")
    rows = [(slot("2026-03-07 04:45"), 1), (slot("2026-03-07 05:00"), 2), (slot("2026-03-09 04:00"), 4)]
    assert days.series(rows) == [1, 2, 0, 4]
    weeks = Period(date(2026, 3, 1), date(2026, 3, 14), NY, "week")
    assert [label for _key, label in weeks.buckets()] == [
        "week of 2026-02-23",
        "week of 2026-03-02",
        "week of 2026-03-09",
    ]
    india = Period(date(2026, 3, 6), date(2026, 3, 7), ZoneInfo("Asia/Kolkata"), "day")
    assert india.series([(slot("2026-03-06 18:15"), 1), (slot("2026-03-06 18:30"), 1)]) == [1, 1]


def test_parse_period_presets_and_errors():
    today = date(2026, 3, 9)
    assert parse_period({}, NY, today) == Period(date(2026, 3, 3), today, NY, "day")
    assert parse_period({"range": "today"}, NY, today).bucket == "hour"
    assert parse_period({"range": "30d"}, NY, today).first == date(2026, 2, 8)
    assert parse_period({"from": "2026-01-01", "to": "2026-03-09"}, NY, today).bucket == "week"
    with pytest.raises(PeriodError, match="hourly buckets"):
        parse_period({"from": "2026-01-01", "to": "2026-02-15", "bucket": "hour"}, NY, today)
    with pytest.raises(PeriodError, match="at most 400 days"):
        parse_period({"from": "2020-01-01", "to": "2026-01-01"}, NY, today)


@pytest.mark.parametrize("value, top", [(0, 1), (3, 5), (7, 10), (12, 20), (2400, 2500), (0.3, 0.5)])
def test_axis_tops_are_round_numbers(value, top):
    assert charts.nice_max(value) == top


def test_charts_escape_labels_and_scale_to_the_data():
    table = Table("t", "T", ["Day", "A", "B"], [["<b>Mon</b>", 1, 3], ["Tue", 4, 0]])
    bars = charts.render(Chart("A & B", "bar", "t", "Day", ["A", "B"]), table)
    assert "<title>A &amp; B</title>" in bars and "&lt;b&gt;Mon&lt;/b&gt;" in bars and "<b>" not in bars
    assert bars.count("<rect x=") == 4 + 2  # two stacked bars per row, two legend keys
    line = charts.render(Chart("Lines", "line", "t", "Day", ["A"]), table)
    assert line.count("<polyline") == 1 and ">5</text>" in line  # the axis tops at 5 for a maximum of 4


def test_chart_colours_follow_what_a_series_counts_as_the_queue_does():
    """Approved is green and rejected red (hatched, so it reads without colour) in any order, and
    two lines that coincide still differ by their dashes."""
    table = Table("m", "M", ["Who", "Rejected", "Approved"], [["ann", 2, 3]])
    bars = charts.render(Chart("Decisions", "bar", "m", "Who", ["Rejected", "Approved"]), table)
    assert 'fill="url(#m-0)"' in bars and '<rect width="3" height="6" style="fill:var(--reject' in bars
    assert 'style="fill:var(--approve, #18794e)"' in bars
    same = Table("v", "V", ["Day", "Auto-approved", "Queued"], [["Mon", 2, 2], ["Tue", 2, 2]])
    lines = charts.render(Chart("Volume", "line", "v", "Day", ["Auto-approved", "Queued"]), same)
    assert (
        'style="stroke:var(--approve, #18794e)" stroke-width="2.9"/>' in lines
        and 'style="stroke:var(--mid, #946200)" stroke-width="2" stroke-dasharray' in lines
    )


def test_a_comment_is_flagged_when_it_names_an_identity_group_as_a_whole_word(site, db):
    """The identity monitor's flag is set as a comment is saved, through the API and by bulk insert."""
    bodies = {
        "As a Gay man I liked this story.": True,
        "The MUSLIM community centre opens on Monday.": True,
        "Gaylord Street is closed again, and my blackberry died.": False,
        "The council budget is late.": False,
    }
    for body in bodies:
        assert site.post_comment(body).status_code == 202
    with db.session() as session:
        first = session.scalar(select(Comment).order_by(Comment.id))
        session.execute(
            insert(Comment),
            [
                {"site_id": first.site_id, "article_id": first.article_id, "author_id": first.author_id}
                | {"body": body, "status": "pending"}
                for body in bodies
            ],
        )
        session.commit()
        flags = session.execute(select(Comment.body, Comment.mentions_identity).order_by(Comment.id)).all()
    assert flags == [(body, expected) for body, expected in bodies.items()] * 2


def test_the_migration_flags_comments_saved_before_it(tmp_path):
    """0004's backfill, run on rows saved without the flag (raw SQL leaves the server default, false)."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    engine = create_engine(url)
    now = "2026-03-01 12:00:00"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO sites (id, name, created_at) VALUES (1, 'Old Planet', :now)"), {"now": now}
        )
        for table in ("articles", "authors"):
            conn.execute(
                text(f"INSERT INTO {table} (id, site_id, external_id, created_at) VALUES (1, 1, 'x', :now)"),
                {"now": now},
            )
        for i, body in enumerate(["Refugees welcome here", "A refugeeish word", "Nothing to see"], 1):
            conn.execute(
                text(
                    "INSERT INTO comments (id, site_id, article_id, author_id, body, status, created_at)"
                    " VALUES (:id, 1, 1, 1, :body, 'approved', :now)"
                ),
                {"id": i, "body": body, "now": now},
            )
        assert conn.execute(text("SELECT count(*) FROM comments WHERE mentions_identity")).scalar() == 0
        with Operations.context(MigrationContext.configure(conn)):
            MIGRATION_0004._flag_identity_mentions()
        flags = conn.execute(text("SELECT mentions_identity FROM comments ORDER BY id")).scalars().all()
    engine.dispose()
    assert flags == [1, 0, 0]


def test_a_bucket_counts_as_begun_only_once_its_time_has_come():
    """The backlog of today draws no level into the hours still to come."""
    today = parse_period({"range": "today"}, NY, date(2026, 3, 9))
    noon = datetime(2026, 3, 9, 17, 30, tzinfo=UTC)  # 13:30 in New York
    begun = [label for key, label in today.buckets() if today.begun(key, noon)]
    assert begun[-1].endswith("13:00 EDT") and len(begun) == 14
    week = parse_period({"from": "2026-03-02", "to": "2026-03-15"}, NY, date(2026, 3, 9))
    assert [week.begun(key, noon) for key, _ in week.buckets()] == [True] * 8 + [False] * 6
