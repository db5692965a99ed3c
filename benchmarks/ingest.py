"""Ingest benchmark: ``POST /api/v1/comments`` throughput and latency against a plain-Flask anchor.

For each database, in alternating rounds, two servers take the same load (``--connections``
keep-alive connections posting new comments as fast as they are answered, for ``--seconds``):

  anchor   ``benchmarks/anchor.py``: validate, insert, commit, publish a Celery message; the least a
           comment API can do, behind gunicorn with the same workers and threads as ``stet api``
  stet     ``stet api`` on the same database and Redis (site key, rate limits, refusal checks,
           author and article upserts, the webhook outbox, the JSON answer)

and prints requests/s, p50/p99 latency, the server's CPU per request and Stet's ratio to the anchor.
Rate limits are raised far out of the way (a refusal is cheaper than an accepted comment). No worker
runs: the comments wait in Redis. PostgreSQL runs when ``--postgres`` names a server (a temporary
database is created on it and dropped).

    python -m benchmarks.ingest [--seconds 20] [--connections 16] [--rounds 2]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.burst import cpu_seconds, wait_http
from benchmarks.worker import ROOT, installation, stet, stop
from service.embedded import free_port

WORKERS, THREADS = 2, 4  # stet api's defaults (service/app/cli.py)


def load(url: str, key: str, connections: int, seconds: float) -> tuple[list[float], Counter[int]]:
    """Post new comments from ``connections`` threads for ``seconds``; latencies of 2xx answers."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int) -> None:
        mine: list[float] = []
        counts: Counter[int] = Counter()
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(timeout=30) as http:
            i = 0
            while time.monotonic() < stop_at:
                body = {
                    "external_id": f"{n}-{i}-{uuid.uuid4().hex[:8]}",
                    "article": {"id": f"story-{i % 20}"},
                    "author": {"id": f"reader-{n}-{i % 40}"},
                    "body": f"Comment {i} from reader {n}: the council should publish the budget.",
                }
                began = time.perf_counter()
                try:
                    status = http.post(url, json=body, headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                counts[status] += 1
                if 200 <= status < 300:
                    mine.append(time.perf_counter() - began)
                i += 1
        with lock:
            latencies.extend(mine)
            statuses.update(counts)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def measure(name: str, server: subprocess.Popen[bytes], url: str, key: str, args) -> dict[str, object]:
    load(url, key, args.connections, 2)  # warm-up: connections, pools, first imports
    cpu = cpu_seconds(server.pid)
    latencies, statuses = load(url, key, args.connections, args.seconds)
    cpu = cpu_seconds(server.pid) - cpu
    ok = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100) if ok > 1 else [float("nan")] * 99
    return {
        "app": name,
        "rps": ok / args.seconds,
        "p50": quantiles[49] * 1000,
        "p99": quantiles[98] * 1000,
        "cpu_ms": cpu / max(ok, 1) * 1000,
        "other": sum(n for status, n in statuses.items() if not 200 <= status < 300),
    }


def run_anchor(database_url: str, redis_url: str, args) -> dict[str, object]:
    port = free_port()
    cmd = [sys.executable, "-m", "benchmarks.anchor", database_url, redis_url, str(port)]
    server = subprocess.Popen(
        [*cmd, str(WORKERS), str(THREADS)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30)
        return measure("anchor", server, f"http://127.0.0.1:{port}/comments", "-", args)
    finally:
        server.terminate()
        server.wait(30)


def run_stet(database_url: str | None, args) -> dict[str, object]:
    extra = {"STET_DATABASE_URL": database_url} if database_url else {}
    with installation("null", **extra) as (env, key, db):
        server = stet(env, "api", "--workers", str(WORKERS), "--threads", str(THREADS))
        base = f"http://127.0.0.1:{env['STET_PORT']}"
        try:
            wait_http(f"{base}/readyz", timeout=60)
            return measure("stet", server, f"{base}/api/v1/comments", key, args)
        finally:
            stop(server)


@contextmanager
def postgres_database(server_url: str):
    """A temporary database on the PostgreSQL server at ``server_url``, dropped afterwards."""
    name = f"stet_bench_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def rounds(label: str, stet_url: str | None, anchor_url: str, args) -> list[dict[str, object]]:
    from service.embedded import EmbeddedRedis

    results = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis:
        for n in range(args.rounds):
            print(f"{label}: round {n + 1}/{args.rounds}", file=sys.stderr)
            results.append({"db": label, **run_anchor(anchor_url, redis.url, args)})
            results.append({"db": label, **run_stet(stet_url, args)})
            with create_engine(anchor_url).begin() as conn:
                conn.execute(text("DELETE FROM anchor_comments"))
    return results


def report(results: list[dict[str, object]]) -> None:
    columns = ("req/s", "p50 ms", "p99 ms", "CPU ms/req", "non-2xx")
    print(f"\n{'database':<10} {'app':<7} " + " ".join(f"{c:>{max(7, len(c))}}" for c in columns))
    for r in results:
        print(
            f"{r['db']:<10} {r['app']:<7} {r['rps']:>7.0f} {r['p50']:>7.1f} {r['p99']:>7.1f} "
            f"{r['cpu_ms']:>10.2f} {r['other']:>7}"
        )
    print()
    for db in dict.fromkeys(r["db"] for r in results):

        def mean(app: str, field: str, db=db) -> float:
            return statistics.mean(float(r[field]) for r in results if r["db"] == db and r["app"] == app)

        print(
            f"{db}: stet/anchor throughput {mean('stet', 'rps') / mean('anchor', 'rps'):.2f}x "
            f"({mean('stet', 'rps'):.0f} vs {mean('anchor', 'rps'):.0f} req/s), "
            f"CPU per request {mean('stet', 'cpu_ms') / mean('anchor', 'cpu_ms'):.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (SQLAlchemy form) to run on too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = rounds("sqlite", None, f"sqlite:///{tmp}/anchor.db", args)
    if args.postgres:
        with postgres_database(args.postgres) as stet_url, postgres_database(args.postgres) as anchor_url:
            results += rounds("postgresql", stet_url, anchor_url, args)
    report(results)


if __name__ == "__main__":
    main()
