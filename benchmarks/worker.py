"""Worker benchmark: decisions per second, POST→decision latency and `stet run`'s first decision.

Everything runs as real processes on the embedded defaults (SQLite in a temporary STET_HOME,
Stet's own Redis, ``stet worker -c 2``), in one run, so the figures are ratios on the same machine:

  drain     N comments saved as pending and enqueued at once; decisions/s from the worker's first
            decision to its last, for the null scorer (the pipeline's own cost), the linear model,
            the ensemble, and the default scorer one comment per run (``STET_SCORE_BATCH=1``, the
            old worker), in batches (the default) and with one worker process
  steady    ``stet api`` + worker, comments POSTed at a steady rate; p50/p95 from the POST to the
            decision (``decided_at``, or the first score's time for queued comments)
  startup   ``stet run`` from launch to the first comment decided

    python -m benchmarks.worker [--comments 2000] [--rate 20] [--seconds 30]

Comment texts are news-site comments from Toxic Spans (``../shared/data/toxic_spans``), cycled.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from benchmarks.burst import count_pending, cpu_seconds, wait_http
from service.config import Settings
from service.embedded import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared/data/toxic_spans/tsd_train.csv"


def texts() -> list[str]:
    csv.field_size_limit(1 << 24)
    with open(DATA, encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f)]


def stet(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    return subprocess.Popen(
        [sys.executable, "-m", "service.app.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# Rate limits raised far out of the way, for benchmarks that measure something else.
NO_LIMITS = {f"STET_RATE_LIMIT_{scope}": "1000000/minute" for scope in ("SITE", "AUTHOR", "IP")}


@contextmanager
def installation(scorer: str, limits: dict[str, str] = NO_LIMITS, **extra: str):
    """A fresh home with its database (SQLite there, or ``STET_DATABASE_URL`` in ``extra``), a site
    and Redis; yields (env, site key, SQLite database path). ``limits={}`` keeps the shipped ones."""
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis:
        home = Path(tmp) / "home"
        env = {
            **os.environ,
            "STET_HOME": str(home),
            "STET_REDIS_URL": redis.url,
            "STET_PORT": str(free_port()),
            "STET_SCORERS": scorer,
            **limits,
            **extra,
        }
        run = {"env": env, "cwd": ROOT, "check": True, "capture_output": True, "text": True}
        subprocess.run([sys.executable, "-m", "service.app.cli", "db", "upgrade"], **run)
        key = subprocess.run(
            [
                sys.executable,
                "-m",
                "service.app.cli",
                "site",
                "create",
                f"bench-{home.name}-{os.getpid()}-{time.monotonic_ns()}",
            ],
            **run,
        )
        yield env, key.stdout.strip(), home / "stet.db"


def decision_times(db: Path) -> list[tuple[float, float]]:
    """(created, decided) per decided comment, as Unix times; queued ones count when first scored."""
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT c.created_at, COALESCE(c.decided_at, (SELECT min(s.created_at) FROM scores s "
            "WHERE s.comment_id = c.id)) FROM comments c WHERE c.status != 'pending'"
        ).fetchall()
    return [(_ts(a), _ts(b)) for a, b in rows if b]


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def drain(scorer: str, n: int, bodies: list[str], concurrency: int = 2, **extra: str) -> tuple[float, float]:
    """Decisions per second over ``n`` comments queued before the worker starts, and the cores the
    worker's processes kept busy meanwhile (CPU seconds over wall seconds)."""
    with installation(scorer, **extra) as (env, _key, db):
        code = (
            "import sys\n"
            "from service.config import Settings\nfrom service.db import Database\n"
            "from service.models import Site\nfrom service.moderation import submit_comment\n"
            "from worker.enqueue import enqueue_scoring\nfrom service.schemas import CommentIn\n"
            "from worker.celery_app import celery\nimport json\n"
            "bodies = json.load(sys.stdin)\n"
            "db = Database(Settings.from_env().sqlalchemy_url)\n"
            "with db.session() as s:\n"
            "    site = s.query(Site).one()\n    ids = []\n"
            "    for i, body in enumerate(bodies):\n"
            "        c = submit_comment(s, site, CommentIn.model_validate({'article': {'id': f'a{i % 20}'},"
            " 'author': {'id': f'r{i % 500}'}, 'body': body})).comment\n"
            "        ids.append(c.id)\n"
            "    s.commit()\n"
            "enqueue_scoring(celery, ids)\n"
        )
        chosen = [bodies[i % len(bodies)][:10_000] for i in range(n)]
        subprocess.run(
            [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, input=json.dumps(chosen).encode()
        )
        worker = stet(env, "worker", "-c", str(concurrency))
        try:
            cpu, began = None, time.monotonic()
            with tqdm(total=n, desc=f"drain {scorer} {extra or ''}", unit="comment", file=sys.stderr) as bar:
                while (pending := count_pending(db)) > 0:
                    if cpu is None and pending < n:  # the first decision: models are loaded
                        cpu, began = cpu_seconds(worker.pid), time.monotonic()
                    bar.update(n - pending - bar.n)
                    time.sleep(0.2)
                bar.update(n - bar.n)
            busy = (cpu_seconds(worker.pid) - (cpu or 0.0)) / (time.monotonic() - began)
        finally:
            stop(worker)
        decided = sorted(b for _, b in decision_times(db))
    return (len(decided) - 1) / (decided[-1] - decided[0]), busy


def post(base: str, key: str, i: int, body: str) -> None:
    data = json.dumps(
        {"article": {"id": f"a{i % 20}"}, "author": {"id": f"r{i % 500}"}, "body": body}
    ).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/comments",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202


def steady(scorer: str, rate: float, seconds: float, bodies: list[str]) -> dict[str, float]:
    """POST→decision latency at a steady ``rate`` of comments per second."""
    from concurrent.futures import ThreadPoolExecutor

    with installation(scorer) as (env, key, db):
        base = f"http://127.0.0.1:{env['STET_PORT']}"
        api, worker = stet(env, "api"), stet(env, "worker", "-c", "2")
        try:
            wait_http(f"{base}/readyz", 60)
            post(base, key, 0, "Warming up the worker.")  # the worker loads its models on first use
            while count_pending(db):
                time.sleep(0.2)
            n = int(rate * seconds)
            started = time.monotonic()
            with ThreadPoolExecutor(8) as pool:
                for i in tqdm(range(1, n + 1), desc=f"steady {scorer} {rate}/s", file=sys.stderr):
                    time.sleep(max(0.0, started + i / rate - time.monotonic()))
                    pool.submit(post, base, key, i, bodies[i % len(bodies)][:10_000])
            deadline = time.monotonic() + 120
            while count_pending(db) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop(api, worker)
        waits = sorted(b - a for a, b in decision_times(db)[1:])
    return {"p50_s": statistics.median(waits), "p95_s": waits[int(0.95 * (len(waits) - 1))], "n": len(waits)}


def startup(bodies: list[str]) -> float:
    """Seconds from launching `stet run` to its first decision."""
    with installation(Settings().scorers) as (env, key, db):
        base = f"http://127.0.0.1:{env['STET_PORT']}"
        started = time.monotonic()
        run = stet({**env, "STET_REDIS_URL": ""}, "run")
        try:
            wait_http(f"{base}/healthz", 60)
            post(base, key, 0, bodies[0])
            while count_pending(db):
                time.sleep(0.05)
            return time.monotonic() - started
        finally:
            stop(run)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--comments", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    bodies = texts()
    default = Settings().scorers
    few = max(200, args.comments // 5)  # the slow one-at-a-time baseline gets fewer comments
    rows = {
        "null scorer (pipeline cost)": drain("null", args.comments, bodies),
        "linear, batched": drain("linear", args.comments, bodies),
        "ensemble, batched": drain("ensemble", args.comments, bodies),
        f"{default}, one comment per run": drain(default, few, bodies, STET_SCORE_BATCH="1"),
        f"{default}, batched (default)": drain(default, args.comments, bodies),
        f"{default}, batched, -c 1": drain(default, args.comments, bodies, concurrency=1),
    }
    latency = steady(default, args.rate, args.seconds, bodies)
    first = startup(bodies)
    base = rows[f"{default}, one comment per run"][0]
    print(f"\nworker -c 2 unless said, embedded SQLite + Redis, {os.cpu_count()} CPUs; Toxic Spans texts\n")
    print(f"{'drain':34} {'decisions/s':>12} {'vs one per run':>15} {'worker cores busy':>18}")
    for name, (value, busy) in rows.items():
        print(f"{name:34} {value:12.1f} {value / base:14.2f}x {busy:18.2f}")
    print(
        f"\nsteady {args.rate:g} comments/s for {args.seconds:g} s ({default}): POST→decision "
        f"p50 {latency['p50_s']:.2f} s, p95 {latency['p95_s']:.2f} s over {latency['n']} comments"
    )
    print(f"stet run → first decision: {first:.1f} s")


if __name__ == "__main__":
    main()
