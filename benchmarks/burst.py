"""Burst benchmark: comments posted over HTTP, time until every one is decided.

Runs the embedded default (SQLite in a temporary STET_HOME, Stet's own Redis, ``stet api`` and
``stet worker -c 2`` as real processes, the shipped rate limits) in one run. By default, 100
comments at once, three ways:

  baseline   the Null scorer: the pipeline's own cost (HTTP, database, Celery, policy)
  linear     the shipped compact toxicity model
  linear+kill  the same, with the worker SIGKILLed once mid-burst and started again

With ``--rate R --seconds S``, a paced burst instead: R comments/s for S seconds, sent on schedule
whatever the answers (an open loop: a slow answer delays no later post, and each latency counts
from when its post was due), with the Null scorer as the baseline and the default scorer. It
prints POST latency p50/p99, refusals, and how long after the last post the last comment was
decided; "lost" counts acknowledged comments that are not stored.

    python -m benchmarks.burst [--comments 100]
    python -m benchmarks.burst --rate 200 --seconds 30 [--copies] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]


def stet(env: dict[str, str], *args: str, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "service.app.cli", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **kw,
    )


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants, from /proc (Linux)."""
    total, todo, tick = 0.0, [pid], 100.0
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def count_pending(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT count(*) FROM comments WHERE status = 'pending'").fetchone()[0]


def post(base: str, key: str, i: int) -> float:
    body = json.dumps(
        {
            "article": {"id": f"story-{i % 5}"},
            "author": {"id": f"reader-{i % 37}"},
            "body": f"Reader comment number {i}: the council should publish the budget figures.",
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/api/v1/comments",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202
    return time.perf_counter() - started


def scenario(name: str, scorer: str, kill: bool, n: int) -> dict[str, float]:
    from benchmarks.worker import installation

    with installation(scorer, limits={}) as (env, key, db):
        port = int(env["STET_PORT"])
        api = stet(env, "api")
        worker = stet(env, "worker", "-c", "2")
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{base}/readyz")
            time.sleep(3)  # let the worker connect and load its scorer lazily on first task
            started = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                latencies = list(pool.map(lambda i: post(base, key, i), range(n)))
            posted = time.perf_counter() - started
            killed = False
            with tqdm(total=n, desc=name, unit="comment", file=sys.stderr) as bar:
                while (pending := count_pending(db)) > 0:
                    bar.update(n - pending - bar.n)
                    if kill and not killed and n - pending >= n // 5:
                        os.killpg(worker.pid, signal.SIGKILL)
                        worker.wait()
                        worker = stet(env, "worker", "-c", "2")
                        killed = True
                    if time.perf_counter() - started > 300:
                        raise RuntimeError(f"{pending} comments still pending after 300 s")
                    time.sleep(0.05)
                bar.update(n - bar.n)
            decided = time.perf_counter() - started
        finally:
            for proc in (api, worker):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
    return {
        "post_p50_ms": statistics.median(latencies) * 1000,
        "posted_s": posted,
        "all_decided_s": decided,
    }


def paced(
    scorer: str, rate: float, seconds: float, copies: bool = False, database_url: str | None = None
) -> dict[str, float]:
    """``rate`` comments/s for ``seconds`` from 32 keep-alive clients, on schedule (open loop):
    news-site comments (Toxic Spans, cycled), or with ``copies`` one text with its number changed,
    as a copy-paste campaign posts."""
    import httpx
    from sqlalchemy import create_engine, text

    from benchmarks.worker import installation, texts

    bodies = (
        ["Reader comment {}: the council should publish the budget figures."]
        if copies
        else [text[:10_000] for text in texts()]
    )

    extra = {"STET_DATABASE_URL": database_url} if database_url else {}
    with installation(scorer, limits={}, **extra) as (env, key, db):
        base = f"http://127.0.0.1:{env['STET_PORT']}"
        engine = create_engine(database_url or f"sqlite:///{db}")

        def count(where: str = "") -> int:
            with engine.connect() as conn:
                return int(conn.execute(text(f"SELECT count(*) FROM comments {where}")).scalar_one())

        api, worker = stet(env, "api"), stet(env, "worker", "-c", "2")
        try:
            wait_http(f"{base}/readyz", 60)
            n = int(rate * seconds)
            due: queue.Queue[int | None] = queue.Queue()
            latencies: list[float] = []
            statuses: Counter[int] = Counter()
            lock = threading.Lock()
            started = time.perf_counter() + 1.0

            def client() -> None:
                headers = {"Authorization": f"Bearer {key}"}
                with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                    while (i := due.get()) is not None:
                        when = started + i / rate
                        time.sleep(max(0.0, when - time.perf_counter()))
                        body = {
                            "external_id": f"burst-{i}",
                            "article": {"id": f"story-{i % 20}"},
                            "author": {"id": f"reader-{i % 997}"},
                            "ip": f"198.51.{i % 200}.{i % 250}",
                            "body": bodies[i % len(bodies)].replace("{}", str(i)),
                        }
                        try:
                            status = http.post("/api/v1/comments", json=body).status_code
                        except httpx.HTTPError:
                            status = 0
                        with lock:
                            latencies.append(time.perf_counter() - when)
                            statuses[status] += 1

            threads = [threading.Thread(target=client) for _ in range(32)]
            for thread in threads:
                thread.start()
            for i in range(n):
                due.put(i)
            for _ in threads:
                due.put(None)
            with tqdm(total=n, desc=f"burst {scorer} {rate:g}/s", unit="post", file=sys.stderr) as bar:
                while any(thread.is_alive() for thread in threads):
                    bar.update(sum(statuses.values()) - bar.n)
                    time.sleep(0.2)
                bar.update(n - bar.n)
            last_post = time.perf_counter()
            acknowledged = statuses[202] + statuses[200]
            while count("WHERE status = 'pending'") and time.perf_counter() - last_post < 600:
                time.sleep(0.1)
            decided_after = time.perf_counter() - last_post
            stored = count()
        finally:
            engine.dispose()
            for proc in (api, worker):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(30)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "refused": n - acknowledged,
        "decided_after_s": decided_after,
        "lost": acknowledged - stored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--comments", type=int, default=100)
    parser.add_argument("--rate", type=float, help="comments per second (a paced burst)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--copies", action="store_true", help="one text, as a copy-paste campaign")
    parser.add_argument("--postgres", help="a PostgreSQL server URL (SQLAlchemy form) instead of SQLite")
    args = parser.parse_args()
    if args.rate:
        from benchmarks.ingest import postgres_database
        from service.config import Settings

        rows = {}
        default = Settings().scorers
        for name, scorer in (("null scorer (baseline)", "null"), (f"default scorer ({default})", default)):
            if args.postgres:
                with postgres_database(args.postgres) as url:
                    rows[name] = paced(scorer, args.rate, args.seconds, args.copies, url)
            else:
                rows[name] = paced(scorer, args.rate, args.seconds, args.copies)
        texts = "one text copied" if args.copies else "news comments"
        database = "PostgreSQL" if args.postgres else "embedded SQLite"
        print(f"\n{args.rate:g} comments/s for {args.seconds:g} s ({texts}); {database} + Redis, -c 2\n")
        columns = f"{'POST p50 ms':>12} {'p99 ms':>8} {'refused':>8} {'decided s after':>16} {'lost':>5}"
        print(f"{'scorer':32} {columns}")
        for name, r in rows.items():
            print(
                f"{name:32} {r['p50_ms']:12.1f} {r['p99_ms']:8.1f} {r['refused']:8.0f} "
                f"{r['decided_after_s']:16.1f} {r['lost']:5.0f}"
            )
        return
    results = {
        "baseline (null scorer)": scenario("baseline", "null", False, args.comments),
        "linear": scenario("linear", "linear", False, args.comments),
        "linear, worker killed once": scenario("linear+kill", "linear", True, args.comments),
    }
    base = results["baseline (null scorer)"]["all_decided_s"]
    print(
        f"\n{args.comments} comments posted by 8 concurrent clients; embedded SQLite + Redis, worker -c 2\n"
    )
    print(
        f"{'scenario':28} {'POST p50 ms':>12} {'all posted s':>13} {'all decided s':>14} {'vs baseline':>12}"
    )
    for name, r in results.items():
        print(
            f"{name:28} {r['post_p50_ms']:12.1f} {r['posted_s']:13.2f} {r['all_decided_s']:14.2f} "
            f"{r['all_decided_s'] / base:11.2f}x"
        )


if __name__ == "__main__":
    main()
