"""Comments posted over HTTP are decided by real ``stet worker`` processes on real Redis."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from service.config import Settings
from service.models import Comment, Decision, Status
from service.policy import ATTRIBUTES
from tests.conftest import SiteClient, wait_until
from worker.enqueue import enqueue_scoring

pytestmark = pytest.mark.worker

CLEAN = "Thanks for the clear explanation of the new bus routes, very useful."
TOXIC = "You are a disgusting idiot and a moron, shut up you stupid piece of trash."


def all_decided(db) -> bool:
    with db.session() as session:
        return not session.scalar(select(func.count()).where(Comment.status == Status.PENDING.value))


def auto_decisions_per_comment(db) -> list[int]:
    with db.session() as session:
        rows = session.execute(
            select(func.count(Decision.id))
            .select_from(Comment)
            .outerjoin(Decision, (Decision.comment_id == Comment.id) & (Decision.by == "auto"))
            .group_by(Comment.id)
        )
        return [n for (n,) in rows]


def test_clean_comment_is_published_and_abuse_held_back(site, worker):
    """The linear model these workers run cannot tell an insult from hate (identity attack ~0.2 for
    both), so the abuse waits for a person: rejected only with a dangerous attribute at 0.5."""
    clean = site.post_comment(CLEAN).get_json()["id"]
    toxic = site.post_comment(TOXIC).get_json()["id"]

    wait_until(lambda: site.status(clean) != "pending" and site.status(toxic) != "pending", 30)

    clean_body, toxic_body = site.get_comment(clean).get_json(), site.get_comment(toxic).get_json()
    assert clean_body["status"] == "approved"
    assert toxic_body["status"] == "queued"
    assert toxic_body["decision"]["reason"].startswith("possible identity attack")
    assert clean_body["scores"]["linear"]["toxicity"] < 0.1 < 0.9 < toxic_body["scores"]["linear"]["toxicity"]
    assert toxic_body["decision"]["by"] == "auto"
    listed = site.client.get("/api/v1/articles/story-1/comments", headers=site.headers()).get_json()
    assert [c["id"] for c in listed["comments"]] == [clean]


def delivered(worker) -> int:
    """Scoring messages the worker has run, from its log's batch lines."""
    return sum(int(n) for n in re.findall(r"scoring batch: (\d+) messages", worker.log.read_text()))


def test_a_task_delivered_twice_decides_once(app, site, db, worker):
    comment_id = site.post_comment(CLEAN).get_json()["id"]
    enqueue_scoring(app.extensions["stet.celery"], [comment_id, comment_id, comment_id])

    wait_until(lambda: site.status(comment_id) != "pending", 30)
    wait_until(lambda: delivered(worker) >= 4, 15, what="all deliveries")
    assert auto_decisions_per_comment(db) == [1]


def pending_count(db) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).where(Comment.status == Status.PENDING.value))


def test_killed_worker_loses_no_comment(site, db, worker_factory):
    """A burst of 100 with the worker SIGKILLed mid-way: every comment is still decided, once."""
    long_body = "The council's budget report deserves a careful reading, line by line. " * 140
    for i in range(100):
        assert site.post_comment(f"{i}: {long_body}").status_code == 202
    first = worker_factory(concurrency=2).start()
    wait_until(lambda: pending_count(db) <= 90, 30, interval=0.02, what="a tenth decided")
    first.kill()
    assert pending_count(db) > 0, "the kill came too late to test anything"
    worker_factory(concurrency=2).start()

    wait_until(lambda: all_decided(db), 60, interval=0.5, what="every comment decided")
    assert auto_decisions_per_comment(db) == [1] * 100


def test_flushed_redis_loses_no_comment(site, db, broker, worker_factory):
    ids = [site.post_comment(f"Posted while no worker runs, number {i}.").get_json()["id"] for i in range(20)]
    broker.flushdb()  # every queued message is gone

    worker_factory().start()

    wait_until(lambda: all_decided(db), 60, interval=0.5, what="every comment decided")
    assert auto_decisions_per_comment(db) == [1] * len(ids)


def test_comment_posted_while_redis_is_down_is_kept_and_decided_later(app_factory, site_key, worker_factory):
    offline = app_factory(redis_url="redis://127.0.0.1:1/0")
    site = SiteClient(offline.test_client(), site_key)

    response = site.post_comment(CLEAN)

    assert response.status_code == 202
    comment_id = response.get_json()["id"]
    worker_factory().start()  # the real broker is back: the sweep finds the comment
    wait_until(lambda: site.status(comment_id) == "approved", 60, interval=0.5)


def test_the_default_scorer_holds_a_threat_and_leaves_criticism_to_a_person(site, worker_factory):
    """Through the real worker with the default scorer: every attribute stored and shown."""
    worker_factory(scorers=Settings().scorers).start()
    threat = site.post_comment("Someone should shoot every one of those protesters.").get_json()["id"]
    criticism = site.post_comment("The minister is a hypocrite and a liar.").get_json()["id"]
    clean = site.post_comment(CLEAN).get_json()["id"]
    wait_until(lambda: all(site.status(c) != "pending" for c in (threat, criticism, clean)), 60)

    body = site.get_comment(threat).get_json()
    assert body["status"] in ("queued", "rejected")
    assert "threat" in body["decision"]["reason"]
    scores = body["scores"][Settings().scorers]
    assert set(scores) - {"model_version"} == set(ATTRIBUTES)
    assert site.status(criticism) != "rejected"
    assert site.status(clean) == "approved"


def test_a_comment_the_pipeline_cannot_take_does_not_hold_up_its_batch(
    site, db, settings, broker, monkeypatch
):
    """A batch that fails on one comment decides the others one by one; that one stays pending."""
    from worker import tasks
    from worker.pipeline import Pipeline

    ids = [site.post_comment(body).get_json()["id"] for body in ("Fine work.", "poison", "Thanks!")]

    class Failing(Pipeline):
        def score_batch(self, bodies, contexts):
            if "poison" in bodies:
                raise ValueError("the model cannot read this")
            return super().score_batch(bodies, contexts)

    monkeypatch.setattr(tasks, "worker_database", lambda: db)
    monkeypatch.setattr(tasks, "worker_settings", lambda: settings)
    assert tasks.decide_batch(ids, Failing(settings, broker)) == 2
    assert [site.status(i) for i in ids] == ["approved", "pending", "approved"]


def test_a_comment_the_pipeline_keeps_failing_on_goes_to_a_person_unscored(
    site, db, settings, broker, monkeypatch
):
    """Retried by the sweep, a comment that makes scoring fail, or run out of time, would stay
    pending for ever and slow every batch it joins. Once it has failed, it is tried after the
    others, alone; at the third failure a person decides it, told why."""
    from celery.exceptions import SoftTimeLimitExceeded

    from worker import tasks
    from worker.pipeline import Pipeline

    class Hanging(Pipeline):
        def score_batch(self, bodies, contexts):
            if "poison" in bodies:  # what Celery raises in the task when its soft time limit passes
                raise SoftTimeLimitExceeded()
            return super().score_batch(bodies, contexts)

    monkeypatch.setattr(tasks, "worker_database", lambda: db)
    monkeypatch.setattr(tasks, "worker_settings", lambda: settings)
    pipeline = Hanging(settings, broker)
    ids = [site.post_comment(body).get_json()["id"] for body in ("Fine work.", "poison", "Thanks!")]

    assert tasks.decide_batch(ids, pipeline) == 0  # the batch ran out of time: all three wait
    assert [site.status(i) for i in ids] == ["pending"] * 3
    assert tasks.decide_batch(ids, pipeline) == 1  # one by one, until the poison runs out of time
    assert [site.status(i) for i in ids] == ["approved", "pending", "pending"]
    assert tasks.decide_batch(ids, pipeline) == 2  # "Thanks!" failed less often: it goes first
    body = site.get_comment(ids[1]).get_json()
    assert body["status"] == "queued"
    assert body["decision"]["reason"] == (
        "could not be scored automatically (3 attempts failed, the last with SoftTimeLimitExceeded): "
        "a person decides"
    )
    assert [r["code"] for r in body["reasons"]] == ["not_scored"]


def test_the_sweep_leaves_comments_waiting_in_a_long_queue_alone(db, settings, broker, monkeypatch, site):
    """Under a backlog a pending comment is most likely still queued: re-enqueueing it lengthens
    the queue (950 messages grew to 1,526). Only once the queue drains is it sent again."""
    from datetime import timedelta

    import worker.tasks as tasks
    from service.models import utcnow
    from worker.enqueue import QUEUE

    comment_id = site.post_comment().get_json()["id"]
    with db.session() as session:  # enqueued 5 s ago: past the 3 s timeout, well inside 10 times it
        session.get(Comment, comment_id).enqueued_at = utcnow() - timedelta(seconds=5)
        session.commit()
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks, "worker_settings", lambda: settings)
    monkeypatch.setattr(tasks, "worker_database", lambda: db)
    monkeypatch.setattr(tasks, "enqueue_scoring", lambda _app, ids: sent.append(list(ids)))
    monkeypatch.setitem(tasks.sweep_pending.app.conf, "broker_url", settings.redis_url)
    broker.delete(QUEUE)
    broker.rpush(QUEUE, *[f"message {n}" for n in range(50)])  # a backlog

    assert tasks.sweep_pending() == 0 and sent == []
    broker.delete(QUEUE)  # drained
    assert tasks.sweep_pending() == 1 and sent == [[comment_id]]


def test_one_stet_beat_runs_the_sweeps_for_workers_started_without_beat(
    site, db, settings, worker_factory, tmp_path
):
    """Scaled out, each worker runs --no-beat and one ``stet beat`` sweeps: a comment whose message
    was lost waits until the beat runs, then is decided."""
    import subprocess
    import sys
    import time
    from datetime import timedelta

    from service import accounts, moderation
    from service.models import utcnow
    from service.schemas import CommentIn
    from tests.conftest import ROOT, _env_for

    worker_factory(1, "--no-beat").start()
    comment_id = site.post_comment().get_json()["id"]
    wait_until(lambda: site.status(comment_id) != "pending", 30, what="the worker to decide it")
    with db.session() as session:  # saved, but its message lost: pending, enqueued long ago
        data = CommentIn.model_validate(
            {"article": {"id": "story-1"}, "author": {"id": "reader-9"}, "body": "A comment Redis lost."}
        )
        saved = moderation.submit_comment(session, accounts.site_for_key(session, site.key), data).comment
        saved.enqueued_at = utcnow() - timedelta(minutes=5)
        session.commit()
        lost = saved.id
    time.sleep(4)  # past the sweep interval (1 s) and the pending timeout (3 s): no sweep runs
    assert site.status(lost) == "pending"
    with (tmp_path / "beat.log").open("ab") as out:
        beat = subprocess.Popen(
            [sys.executable, "-m", "service.app.cli", "beat"],
            env=_env_for(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        wait_until(lambda: site.status(lost) != "pending", 60, what="the beat's sweep to re-enqueue it")
    finally:
        beat.terminate()
        beat.wait(20)


def test_a_request_id_follows_a_comment_from_its_post_to_the_worker_and_its_webhooks(
    site, db, worker_factory
):
    """The site's X-Request-Id is on the worker's (JSON) decision line and on both webhook requests,
    and the worker's metrics endpoint counts the decision."""
    import json
    import socket
    import urllib.request

    from flask import Flask, request
    from prometheus_client.parser import text_string_to_metric_families

    from service import webhooks
    from service.models import Site
    from tests.conftest import serving

    with socket.socket() as probe:  # a free port for the worker's metrics
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seen: list[tuple[str, str | None]] = []
    receiver = Flask("receiver")
    receiver.add_url_rule(
        "/hook",
        "hook",
        lambda: seen.append((request.headers["Stet-Event"], request.headers.get("X-Request-Id"))) or "",
        methods=["POST"],
    )
    with serving(receiver) as url:
        with db.session() as session:
            webhooks.add(session, session.query(Site).one(), f"{url}/hook", [], "test", allow_private=True)
            session.commit()
        worker = worker_factory(1, log_format="json", worker_metrics_port=port).start()
        response = site.client.post(
            "/api/v1/comments",
            json={"article": {"id": "story-1"}, "author": {"id": "reader-1"}, "body": CLEAN},
            headers={**site.headers(), "X-Request-Id": "newsroom-7f3a"},
        )
        comment_id = response.get_json()["id"]
        wait_until(lambda: len(seen) >= 2, 30, what="both webhook deliveries")

    assert sorted(seen) == [("comment.created", "newsroom-7f3a"), ("comment.decided", "newsroom-7f3a")]
    lines = [json.loads(line) for line in worker.log.read_text().splitlines() if line.startswith("{")]
    decided = [line for line in lines if line["message"] == f"comment {comment_id} approved"]
    assert decided and decided[0]["request_id"] == "newsroom-7f3a"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as scrape:
        families = {f.name: f for f in text_string_to_metric_families(scrape.read().decode())}
    decisions = families["stet_comments_decided"].samples
    assert sum(s.value for s in decisions if s.labels.get("by") == "auto" and s.name.endswith("_total")) == 1
    assert any(s.labels.get("scorer") == "linear" for s in families["stet_scoring_seconds"].samples)


def test_a_comment_after_redis_restarts_is_decided_at_once_not_by_the_sweep(
    app_factory, site_key, worker_factory, tmp_path
):
    """Celery empties its event loop's timers when it reconnects to the broker; celery-batches'
    flush timer went with them, and a batch smaller than a full one then waited for more messages
    or the sweep (a burst after a Redis restart stalled for 90 s in the fault suite). No sweep runs
    here (``--no-beat``), so only the flush timer can decide the comment."""
    import os
    import signal
    import threading
    import time

    from service.embedded import EmbeddedRedis

    redis = EmbeddedRedis(tmp_path / "redis").start()
    try:
        site = SiteClient(app_factory(redis_url=redis.url).test_client(), site_key)
        worker = worker_factory(1, "--no-beat", redis_url=redis.url).start()
        first = site.post_comment(CLEAN).get_json()["id"]
        wait_until(lambda: site.status(first) != "pending", 30, what="the first comment to be decided")
        # Comments keep coming, so the flush timer is running when Redis dies.
        killed = threading.Event()

        def post_steadily() -> None:
            n = 0
            while not killed.is_set():
                site.post_comment(f"Comment {n} of a steady stream about the new bus routes.")
                n += 1
                time.sleep(0.05)

        poster = threading.Thread(target=post_steadily)
        poster.start()
        time.sleep(1)
        os.kill(redis.process.pid, signal.SIGKILL)
        redis.process.wait()
        killed.set()
        poster.join(30)
        time.sleep(1)
        redis = EmbeddedRedis(redis.folder, redis.port).start()
        offset = worker.log.stat().st_size
        wait_until(
            lambda: b"Connected to" in worker.log.read_bytes()[offset:], 60, what="the worker to reconnect"
        )
        after = site.post_comment("The second comment, after the broker came back.").get_json()["id"]
        wait_until(lambda: site.status(after) != "pending", 15, what="the comment after the restart")
    finally:
        redis.stop()
