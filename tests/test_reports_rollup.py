"""The reports' rollup: rolled-up counts equal counts from the base tables, as history grows."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from service import accounts
from service.models import Article, Author, Comment, Decision, ReportRollup, ReportRollupState, Site
from service.reporting import backlog, rollup, volume
from service.reporting.period import Period, zone_of
from service.reporting.scope import Scope

NOW = datetime(2026, 6, 10, 15, 20, tzinfo=UTC)


@pytest.fixture
def history(db, settings):
    """A site in New York with comments every 40 minutes over two days, each decided by a person
    after a wait that grows by 61 seconds per comment."""
    with db.session() as session:
        site, _key = accounts.create_site(session, "Rollup Gazette")
        site.timezone = "America/New_York"
        session.flush()
        article = Article(site_id=site.id, external_id="a1", title="A1", section="city")
        author = Author(site_id=site.id, external_id="r1")
        session.add_all([article, author])
        session.flush()
        for i in range(72):
            arrived = NOW - timedelta(days=2) + timedelta(minutes=40 * i)
            comment = Comment(
                site_id=site.id,
                article_id=article.id,
                author_id=author.id,
                body="x",
                status="queued",
                created_at=arrived,
            )
            session.add(comment)
            session.flush()
            decided = arrived + timedelta(seconds=61 * i)
            auto = Decision(
                comment_id=comment.id, from_status="pending", status="queued", by="auto", reason="r"
            )
            auto.created_at = arrived + timedelta(seconds=1)
            session.add(auto)
            if decided < NOW - timedelta(hours=1):
                comment.status = "approved"
                person = Decision(
                    comment_id=comment.id, from_status="queued", status="approved", by="moderator", reason="r"
                )
                person.created_at = decided
                session.add(person)
        session.commit()
        return site.id


def scope_for(session, site_id, zone="America/New_York", **kw):
    site = session.get(Site, site_id)
    site.timezone = zone
    today = NOW.astimezone(zone_of(zone)).date()
    period = Period(today - timedelta(days=6), today, zone_of(zone), "hour")
    return Scope(site, period, kw.pop("settings"), **kw)


def live(session, scope):
    """The same counts straight from the base tables, for the whole period (what a rollup must equal)."""
    return sorted(rollup.compute(session, scope, scope.period.start, scope.period.end))


def read(session, scope, measures=("received", "decision", "queue", "wait")):
    return hourly(rollup.counts(session, scope, measures, scope.period.start, scope.period.end))


def hourly(rows):
    """Rows summed per UTC hour (the rollup's hour slots and the live quarter-hours alike)."""
    totals: dict = {}
    for slot, measure, key, value in rows:
        hour = slot - slot % 4
        totals[(hour, measure, key)] = totals.get((hour, measure, key), 0) + value
    return {key: value for key, value in totals.items() if value}


def test_finished_hours_are_rolled_up_once_and_equal_the_base_tables(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        assert read(session, scope) == hourly(live(session, scope))
        state = session.get(ReportRollupState, history)
        assert state.seconds == 3600 and state.until == datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
        stored = session.scalar(select(func.count()).select_from(ReportRollup))
        assert stored > 0
        assert read(session, scope) == hourly(live(session, scope))  # a second read adds no rows
        assert session.scalar(select(func.count()).select_from(ReportRollup)) == stored


def test_new_comments_and_late_decisions_on_old_comments_count_when_they_happen(
    db, settings, history, monkeypatch
):
    monkeypatch.setattr(rollup, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        before = volume.build(session, scope).figures
        # after the rollup: a new comment now, and a moderator deciding a comment from two days ago
        old = session.scalar(select(Comment).where(Comment.status == "queued").order_by(Comment.id))
        new = Comment(site_id=history, article_id=old.article_id, author_id=old.author_id, body="y")
        new.created_at, new.status = NOW - timedelta(minutes=5), "approved"
        session.add(new)
        session.flush()
        session.add_all(
            [
                Decision(
                    comment_id=new.id,
                    from_status="pending",
                    status="approved",
                    by="auto",
                    reason="r",
                    created_at=NOW - timedelta(minutes=4),
                ),
                Decision(
                    comment_id=old.id,
                    from_status="queued",
                    status="rejected",
                    by="moderator",
                    reason="r",
                    created_at=NOW - timedelta(minutes=3),
                ),
            ]
        )
        old.status = "rejected"
        session.commit()
        after = volume.build(session, scope).figures
        assert after["Received"] == before["Received"] + 1
        assert after["Auto-approved"] == before["Auto-approved"] + 1
        assert after["Decided by moderators"] == before["Decided by moderators"] + 1
        # the old comment's arrival hour is untouched; the decision lands in the hour it was made
        rows = {row[0]: row for row in volume.build(session, scope).tables[0].rows}
        assert rows["Wed 10 11:00 EDT"][1:6] == [1, 1, 0, 0, 1]  # 15:00 UTC: received, auto-approved
        assert rows["Mon 08 11:00 EDT"][1] == 1  # the old comment still arrived two days ago
        # an hour later those events are rolled up too, and still counted once
        monkeypatch.setattr(rollup, "utcnow", lambda: NOW + timedelta(hours=1))
        assert volume.build(session, scope).figures == after
        assert read(session, scope) == hourly(live(session, scope))


def test_backdated_history_needs_an_invalidation(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        received = volume.build(session, scope).figures["Received"]
        some = session.scalar(select(Comment).order_by(Comment.id))
        imported = Comment(
            site_id=history, article_id=some.article_id, author_id=some.author_id, body="imported"
        )
        imported.created_at = NOW - timedelta(days=1)
        session.add(imported)
        session.commit()
        assert volume.build(session, scope).figures["Received"] == received  # rolled-up hours are final
        rollup.invalidate(session, history, since=NOW - timedelta(days=1))
        session.commit()
        assert volume.build(session, scope).figures["Received"] == received + 1
        assert read(session, scope) == hourly(live(session, scope))


def test_a_half_hour_zone_rolls_up_quarter_hours(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        ny = read(session, scope)
        assert session.get(ReportRollupState, history).seconds == 3600
        kolkata = scope_for(session, history, "Asia/Kolkata", settings=settings)
        days = Period(date(2026, 6, 8), date(2026, 6, 10), zone_of("Asia/Kolkata"), "day")
        kolkata = Scope(kolkata.site, days, settings)
        rows = rollup.counts(session, kolkata, ("received",), days.start, days.end)
        assert session.get(ReportRollupState, history).seconds == 900
        assert sorted(rows) == sorted(r for r in live(session, kolkata) if r[1] == "received")
        assert days.series((s, v) for s, _m, _k, v in rows) == [
            sum(1 for i in range(72) if day(i, "Asia/Kolkata") == d) for d in ("08", "09", "10")
        ]
        assert ny  # the New York rollup was replaced, not mixed in


def day(i, zone):
    arrived = NOW - timedelta(days=2) + timedelta(minutes=40 * i)
    return arrived.astimezone(zone_of(zone)).strftime("%d")


def test_time_to_decision_percentiles_are_exact_to_the_minute(db, settings, history, monkeypatch):
    """Waits are 61 s × i: the histogram's nearest-rank percentiles are the exact ones rounded down
    to the minute."""
    monkeypatch.setattr(rollup, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        waits = sorted(
            (d.created_at - c.created_at).total_seconds()
            for d, c in session.execute(
                select(Decision, Comment).join(Comment).where(Decision.by == "moderator")
            )
        )
        figures = backlog.build(session, scope, now=NOW).figures
        for p, name in ((0.5, "Median minutes to decision"), (0.9, "90th percentile minutes to decision")):
            exact = waits[max(1, math.ceil(p * len(waits))) - 1]
            assert figures[name] == exact // 60
            assert 0 <= exact / 60 - figures[name] < 1
