"""What an operator watches: /metrics, request ids and the log lines (the worker's side is in
test_worker_e2e.py)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys

import click
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from service import logs, webhooks
from service.app import sentry
from service.config import Settings
from service.models import Site, Webhook, WebhookDelivery
from tests.conftest import ROOT


def scraped(client, **headers: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """/metrics as {(sample name, labels): value}, with every family as (name, {}): 0."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    families = list(text_string_to_metric_families(response.get_data(as_text=True)))
    return {(family.name, frozenset()): 0.0 for family in families} | {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in families
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_after_a_post_count_the_comment_its_backlog_and_the_route(site, client, db):
    with db.session() as session:
        site_id = str(session.scalars(select(Site.id)).one())
    route = {"method": "POST", "route": "/api/v1/comments", "status": "202"}
    before = scraped(client)

    assert site.post_comment().status_code == 202

    after = scraped(client)
    received = "stet_comments_received_total"
    assert value(after, received, site=site_id) == value(before, received, site=site_id) + 1
    latency = "stet_http_request_duration_seconds_count"
    assert value(after, latency, **route) == value(before, latency, **route) + 1
    assert value(after, "stet_comments_waiting", site=site_id, status="pending") == 1
    assert value(after, "stet_comments_waiting_oldest_age_seconds", site=site_id, status="pending") >= 0
    assert value(after, "stet_dependency_up", dependency="database") == 1
    assert value(after, "stet_scoring_queue_messages") == 1  # no worker runs here
    families = {name for name, _labels in after}
    dashboard = (ROOT / "deploy" / "grafana" / "stet.json").read_text()
    for name in set(re.findall(r"stet_[a-z_]+", dashboard)):
        assert re.sub(r"_(total|bucket|count|sum)$", "", name) in families, f"the dashboard's {name}"


def test_metrics_can_ask_for_a_token(app_factory):
    client = app_factory(metrics_token="scrape-me").test_client()

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert scraped(client, Authorization="Bearer scrape-me")


def test_a_request_id_is_kept_or_made_returned_and_stored_on_the_webhooks_it_causes(site, client, db):
    with db.session() as session:
        webhooks.add(session, session.scalars(select(Site)).one(), "http://127.0.0.1:9/h", [], "t", True)
        session.commit()
    client.environ_base["HTTP_X_REQUEST_ID"] = "site-req-42"
    response = site.post_comment()
    assert response.headers["X-Request-Id"] == "site-req-42"
    for unsafe in ("has space", "x" * 129, 'quote"d'):
        client.environ_base["HTTP_X_REQUEST_ID"] = unsafe
        made = client.get("/healthz").headers["X-Request-Id"]
        assert made != unsafe and logs.safe_request_id(made) == made

    with db.session() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert delivery.request_id == "site-req-42"
        _body, headers = webhooks.request_for(session.get(Webhook, delivery.webhook_id), delivery)
    assert headers["X-Request-Id"] == "site-req-42"


def test_access_lines_are_json_objects_with_the_request_id_and_no_body(site):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JSONFormatter())
    access = logging.getLogger("stet.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        response = site.post_comment("A secret-free but unmistakable comment body.")
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)

    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert (line["method"], line["route"], line["status"]) == ("POST", "/api/v1/comments", 202)
    assert line["site_id"] is not None and line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert "unmistakable" not in stream.getvalue() and site.key not in stream.getvalue()


def test_a_sentry_dsn_without_the_sdk_stops_the_start(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)  # as if the `sentry` extra were not installed
    with pytest.raises(click.ClickException, match=r"pip install 'stet\[sentry\]'"):
        sentry.init(Settings(sentry_dsn="https://key@sentry.example.org/1"))


def test_request_threads_making_the_metrics_at_once_make_them_once(tmp_path):
    """The first requests of a fresh server process arrive together; each used to register the
    metrics itself, and all but one answered 500."""
    code = (
        "import threading\n"
        "from service.metrics import metrics\n"
        "start, failed = threading.Barrier(8), []\n"
        "def first_request():\n"
        "    start.wait()\n"
        "    try:\n"
        "        metrics().rate_limited.labels(scope='site').inc()\n"
        "    except Exception as exc:\n"
        "        failed.append(exc)\n"
        "threads = [threading.Thread(target=first_request) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "assert not failed, failed\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
