"""The reports' rollup: rolled-up counts equal counts from the base tables, as history grows."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from service import accounts, privacy
from service.models import (
    Article,
    Author,
    Comment,
    Decision,
    Reason,
    ReportRollup,
    ReportRollupState,
    Score,
    Site,
)
from service.policy import DANGEROUS
from service.reporting import model, moderation, queue, rollup, volume
from service.reporting.period import Period, zone_of
from service.reporting.scope import Scope
from tests.conftest import stet
from worker.enqueue import REPORTS_FILL_TASK

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


EVENTS = (
    "received",
    "reported",
    "decision",
    "queue",
    "wait",
    "moderator",
    "handling",
    "agreement",
    "identity",
)


def read(session, scope, measures=EVENTS):
    return hourly(rollup.counts(session, scope, measures, scope.period.start, scope.period.end))


def hourly(rows, zone="America/New_York"):
    """Rows summed per UTC hour (the rollup's hour slots and the live quarter-hours alike), and
    per local day for the measures the rollup keeps per day."""
    totals: dict = {}
    for slot, measure, key, value in rows:
        when = slot - slot % 4
        if measure in rollup.DAILY:
            when = datetime.fromtimestamp(slot * 900, UTC).astimezone(zone_of(zone)).date()
        totals[(when, measure, key)] = totals.get((when, measure, key), 0) + value
    return {key: value for key, value in totals.items() if value}


def test_finished_hours_are_rolled_up_once_and_equal_the_base_tables(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    monkeypatch.setattr(rollup.filling, "FILL_STEP", 20)  # two days of 36 comments: a step a day
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        assert read(session, scope) == hourly(live(session, scope))
        state = session.get(ReportRollupState, history)  # a page rolls up one step, computes the rest
        assert state.seconds == 3600 and state.until == datetime(2026, 6, 9, 15, 0, tzinfo=UTC)
        reached = []
        rollup.fill(session, scope, progress=lambda step, horizon: reached.append((step, horizon)))
        assert reached == [(datetime(2026, 6, 10, 15, 0, tzinfo=UTC),) * 2]  # the worker: the rest
        stored = session.scalar(select(func.count()).select_from(ReportRollup))
        assert stored > 0
        assert read(session, scope) == hourly(live(session, scope))
        assert read(session, scope) == hourly(live(session, scope))  # a second read adds no rows
        assert session.scalar(select(func.count()).select_from(ReportRollup)) == stored


def test_new_comments_and_late_decisions_on_old_comments_count_when_they_happen(
    db, settings, history, monkeypatch
):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
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
        monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW + timedelta(hours=1))
        assert volume.build(session, scope).figures == after
        assert read(session, scope) == hourly(live(session, scope))


def test_backdated_history_needs_an_invalidation(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
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
        done = stet(settings, "report", "rollup", "--site", "Rollup Gazette", "--rebuild")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Rollup Gazette: rolled up to ")
        session.expire_all()
        assert volume.build(session, scope).figures["Received"] == received + 1
        assert read(session, scope) == hourly(live(session, scope))


def test_a_half_hour_zone_rolls_up_quarter_hours(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
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
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings)
        waits = sorted(
            (d.created_at - c.created_at).total_seconds()
            for d, c in session.execute(
                select(Decision, Comment).join(Comment).where(Decision.by == "moderator")
            )
        )
        figures = queue.build(session, scope, now=NOW).figures
        for p, name in ((0.5, "Median minutes to decision"), (0.9, "90th percentile minutes to decision")):
            exact = waits[max(1, math.ceil(p * len(waits))) - 1]
            assert figures[name] == exact // 60
            assert 0 <= exact / 60 - figures[name] < 1


# Toxicity and spam scores on and around the default thresholds (0.08 / 0.97, spam 0.5 / 0.95),
# where a float bucket could go wrong: 0.29 * 100 is 28.999999999999996 in binary floating point.
TOXICITY = [0.0, 0.01, 0.079, 0.08, 0.0800001, 0.29, 0.5, 0.57, 0.9699999, 0.97, 0.975, 1.0]
SPAM = [0.0, 0.49, 0.5, 0.51, 0.94, 0.95, 0.99, 0.0, 0.2, 0.3, 0.58, 0.29]


@pytest.fixture
def scored(db, settings):
    """A site in New York with twelve comments of two authors in the last day (even ones in the
    city section, odd ones in sport), each scored by one scorer (toxicity and spam) two seconds
    after arriving and decided by the model at the default thresholds; every third also scored
    by a second, lower-scoring scorer and given a ``links`` reason, every fourth a ``caps`` reason."""
    with db.session() as session:
        site, _key = accounts.create_site(session, "Scored Times")
        site.timezone = "America/New_York"
        session.flush()
        articles = [
            Article(site_id=site.id, external_id="s1", title="S1", section="city"),
            Article(site_id=site.id, external_id="s2", title="S2", section="sport"),
        ]
        authors = [Author(site_id=site.id, external_id=f"scored-{i}") for i in range(2)]
        session.add_all([*articles, *authors])
        session.flush()
        for i, (toxicity, spam) in enumerate(zip(TOXICITY, SPAM, strict=True)):
            arrived = NOW - timedelta(hours=20) + timedelta(minutes=70 * i)
            comment = Comment(
                site_id=site.id,
                article_id=articles[i % 2].id,
                author_id=authors[i % 2].id,
                body=f"scored {i}",
                status="approved",
                created_at=arrived,
            )
            session.add(comment)
            session.flush()
            written = arrived + timedelta(seconds=2)
            scores = [("linear", "toxicity", toxicity), ("linear", "spam", spam)]
            if i % 3 == 0:
                scores += [("other", "toxicity", toxicity / 2), ("other", "spam", spam / 2)]
            for scorer, label, value in scores:
                session.add(
                    Score(
                        comment_id=comment.id,
                        scorer=scorer,
                        model_version="1",
                        label=label,
                        value=value,
                        created_at=written,
                    )
                )
            auto, category = (
                ("approved", "clean")
                if toxicity < 0.08
                else ("queued", "uncertain")
                if toxicity < 0.5
                else ("queued", "identity_attack")
                if toxicity < 0.97
                else ("rejected", "toxic")
            )
            comment.status = auto
            session.add(
                Decision(
                    comment_id=comment.id,
                    from_status="pending",
                    status=auto,
                    by="auto",
                    reason=category,
                    details={"category": category},
                    created_at=written,
                )
            )
            for code, every in (("links", 3), ("caps", 4)):
                if i % every == 0:
                    session.add(
                        Reason(
                            comment_id=comment.id,
                            scorer="linear",
                            model_version="1",
                            code=code,
                            weight=1.0,
                            detail=code,
                            created_at=written,
                        )
                    )
        session.commit()
        return site.id


def toxicity_figures(session, scope):
    """(label rows, reason rows) of the moderation report, as a user reads them."""
    report = moderation.build(session, scope)
    return report.tables[0].rows, report.tables[1].rows


def test_score_histograms_by_arrival_equal_the_scores(db, settings, scored, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    monkeypatch.setattr(rollup.filling, "FILL_STEP", 1)  # a fill step per day (the history's last day)
    with db.session() as session:
        scope = day_scope(session, scored, settings)
        labels, reasons = toxicity_figures(session, scope)
        assert session.get(ReportRollupState, scored) is not None  # read from the rollup
        # by hand: toxicity >= 0.08: 0.08 .. 1.0 is 9 of 12; >= 0.97: 0.97, 0.975, 1.0
        # spam >= 0.5: 0.5, 0.51, 0.94, 0.95, 0.99, 0.58; >= 0.95: 0.95, 0.99
        assert [row[:5] + row[6:7] for row in labels] == [
            ["spam", 0.5, 0.95, 12, 6, 2],
            ["toxicity", 0.08, 0.97, 12, 9, 3],
        ]
        assert reasons == [["links", 4, 0.3333], ["caps", 3, 0.25]]
        assert moderation._from_rollup(session, scope) == moderation._live(session, scope)


def day_scope(session, site_id, settings):
    site = session.get(Site, site_id)
    today = NOW.astimezone(zone_of(site.timezone)).date()
    return Scope(site, Period(today - timedelta(days=1), today, zone_of(site.timezone), "day"), settings)


def test_rescores_and_late_scores_move_old_comments_between_buckets(db, settings, scored, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = day_scope(session, scored, settings)
        low = session.scalar(select(Score).where(Score.label == "toxicity", Score.value == 0.01))
        owner = session.get(Comment, low.comment_id)
        late = Comment(site_id=scored, article_id=owner.article_id, author_id=owner.author_id, body="late")
        late.created_at, late.status = NOW - timedelta(hours=9), "pending"  # not scored yet
        session.add(late)
        session.commit()
        before, _ = toxicity_figures(session, scope)
        assert before[1][3:5] == [12, 9]
        # Hours after they were rolled up: a new model version rescores the 0.01 comment to 0.98
        # (queued and rejected thresholds both crossed), and the comment that arrived in the
        # morning is scored only now (a backlog), with a new reason.
        session.add_all(
            [
                Score(
                    comment_id=low.comment_id,
                    scorer="linear",
                    model_version="2",
                    label="toxicity",
                    value=0.98,
                    created_at=NOW - timedelta(minutes=3),
                ),
                Score(
                    comment_id=late.id,
                    scorer="linear",
                    model_version="1",
                    label="toxicity",
                    value=0.3,
                    created_at=NOW - timedelta(minutes=2),
                ),
                Reason(
                    comment_id=late.id,
                    scorer="linear",
                    model_version="1",
                    code="caps",
                    weight=1.0,
                    detail="caps",
                    created_at=NOW - timedelta(minutes=2),
                ),
            ]
        )
        session.commit()
        expected = ["toxicity", 0.08, 0.97, 13, 11, 0.8462, 4, 0.3077]
        labels, reasons = toxicity_figures(session, scope)
        assert labels[1] == expected  # counted at once, though their hours were rolled up
        assert ["caps", 4, 0.3077] in reasons
        # an hour later the moves are rolled up too: counted once, and equal to the scores
        monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW + timedelta(hours=1))
        labels, reasons = toxicity_figures(session, scope)
        assert labels[1] == expected
        assert session.get(ReportRollupState, scored).until == NOW.replace(minute=0) + timedelta(hours=1)
        assert moderation._from_rollup(session, scope) == moderation._live(session, scope)


def test_a_threshold_off_the_hundredths_is_counted_from_the_scores(db, settings, scored, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = day_scope(session, scored, settings)
        scope.site.reject_above = 0.9699999  # between two rollup buckets
        labels, _ = toxicity_figures(session, scope)
        assert labels[1][2:5] + [labels[1][6]] == [0.9699999, 12, 9, 4]  # 0.9699999 is now above
        assert session.get(ReportRollupState, scored) is None  # the rollup was not used


def test_erasing_an_author_takes_their_scores_out_of_the_rollup(db, settings, scored, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = day_scope(session, scored, settings)
        toxicity_figures(session, scope)
        scope.site.erasure = "remove"
        author = session.scalar(select(Author).where(Author.external_id == "scored-1"))
        privacy.erase(session, scope.site, author)  # the odd comments: 0.01, 0.08, 0.29, ...
        session.commit()
        labels, reasons = toxicity_figures(session, scope)
        assert [row[:5] + row[6:7] for row in labels] == [
            ["spam", 0.5, 0.95, 6, 4, 1],
            ["toxicity", 0.08, 0.97, 6, 4, 1],
        ]
        assert moderation._from_rollup(session, scope) == moderation._live(session, scope)


def test_the_worker_keeps_every_site_rolled_up_on_beat(db, settings, scored, history, monkeypatch):
    from worker import tasks
    from worker.celery_app import celery

    assert celery.conf.beat_schedule["fill-report-rollups"]["task"] == REPORTS_FILL_TASK
    monkeypatch.setattr(tasks, "worker_database", lambda: db)
    monkeypatch.setattr(tasks, "worker_settings", lambda: settings)
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    assert tasks.fill_report_rollups() == 2
    with db.session() as session:
        states = session.scalars(select(ReportRollupState).order_by(ReportRollupState.site_id)).all()
        assert [(s.until, s.timezone) for s in states] == [(NOW.replace(minute=0), "America/New_York")] * 2
        scope = day_scope(session, scored, settings)
        assert moderation._from_rollup(session, scope) == moderation._live(session, scope)


def test_a_section_reads_its_own_rows_of_the_rollup(db, settings, scored, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        whole = day_scope(session, scored, settings)
        sport = Scope(whole.site, whole.period, settings, section="sport")
        labels, reasons = toxicity_figures(session, sport)
        # the odd comments: toxicity 0.01 0.08 0.29 0.57 0.97 1.0, spam 0.49 0.51 0.95 0.0 0.3 0.29
        assert [row[:5] + row[6:7] for row in labels] == [
            ["spam", 0.5, 0.95, 6, 2, 1],
            ["toxicity", 0.08, 0.97, 6, 5, 2],
        ]
        assert reasons == [["links", 2, 0.3333]]  # comments 3 and 9
        stored = session.scalar(
            select(func.count()).select_from(ReportRollup).where(ReportRollup.section == "sport")
        )
        assert stored > 0
        assert moderation._from_rollup(session, sport) == moderation._live(session, sport)
        assert moderation._from_rollup(session, whole) == moderation._live(session, whole)


def test_section_rows_equal_the_base_tables(db, settings, history, monkeypatch):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = scope_for(session, history, settings=settings, section="city")
        assert read(session, scope)  # every comment of this site is in the city section
        assert read(session, scope) == hourly(live(session, scope))
        assert read(session, scope_for(session, history, settings=settings, section="sport")) == {}


SIMULATIONS = [  # the model's decision (and why), a toxicity range, the status that disagrees
    ("queued", tuple(DANGEROUS), 0.5, 0.97, "approved"),
    ("queued", ("uncertain",), 0.08, 0.3, "rejected"),
    ("rejected", ("toxic",), 0.97, 0.98, "approved"),
    ("approved", ("clean",), 0.0, 0.08, "rejected"),
]


def test_the_threshold_simulator_counts_from_the_rollup_as_from_the_decisions(
    db, settings, scored, monkeypatch
):
    monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW)
    with db.session() as session:
        scope = day_scope(session, scored, settings)

        def both():
            rolled, live = model._rolled_up(session, scope), model._live(session, scope)
            figures = [rolled(*case) for case in SIMULATIONS]
            assert figures == [live(*case) for case in SIMULATIONS]
            return figures

        # queued 0.5..0.97: 0.5, 0.57, 0.9699999; uncertain 0.08..0.3: 0.08, 0.0800001, 0.29;
        # rejected 0.97..0.98: 0.97, 0.975; clean below 0.08: 0.0, 0.01, 0.079
        assert both() == [(3, 0), (3, 0), (2, 0), (3, 0)]
        # after the rollup a moderator approves the 0.57 comment: "now" moves for its old decision
        queued = session.scalar(
            select(Comment).join(Score).where(Score.label == "toxicity", Score.value == 0.57)
        )
        queued.status = "approved"
        session.add(
            Decision(
                comment_id=queued.id,
                from_status="queued",
                status="approved",
                by="moderator",
                reason="",
                created_at=NOW - timedelta(minutes=2),
            )
        )
        session.commit()
        assert both() == [(3, 1), (3, 0), (2, 0), (3, 0)]
        monkeypatch.setattr(rollup.slots, "utcnow", lambda: NOW + timedelta(hours=1))
        assert both() == [(3, 1), (3, 0), (2, 0), (3, 0)]  # rolled up: -1 "queued", +1 "approved"
        simulated = model.simulate(session, scope, reject_above=0.5).rows
        fewer = "at most this many fewer queued (those held for a threat, hate or harassment at 0.5+)"
        assert simulated == [
            ["auto-reject at 0.5 instead of 0.97", fewer, 3, 1.5, 1, "approved by your moderators"]
        ]
        # toxicity alone never rejects: the comments queued as uncertain (0.08..0.5) stay queued
        lower = model.simulate(session, scope, reject_above=0.08).rows
        assert lower == [
            ["auto-reject at 0.08 instead of 0.97", fewer, 3, 1.5, 1, "approved by your moderators"]
        ]
        assert model.simulate(session, scope, approve_below=0.01).rows[0][1:3] == ["more queued", 2]
        scope.site.rude = "approve"  # rude comments are published: the approve threshold decides nothing
        assert model.simulate(session, scope, approve_below=0.01).rows[0][1:3] == [
            "none: this site publishes rude comments without a threat, hate or harassment",
            0,
        ]
