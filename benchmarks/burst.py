"""Burst benchmark: 100 comments posted at once over HTTP, time until every one is decided.

Runs the embedded default (SQLite in a temporary STET_HOME, Stet's own Redis, ``stet api`` and
``stet worker -c 2`` as real processes) three ways, in one run:

  baseline   the Null scorer: the pipeline's own cost (HTTP, database, Celery, policy)
  linear     the shipped compact toxicity model
  linear+kill  the same, with the worker SIGKILLed once mid-burst and started again

    python benchmarks/burst.py [--comments 100]
"""

from __future__ import annotations

import argparse
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from service.embedded import EmbeddedRedis, free_port

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
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis:
        home = Path(tmp) / "home"
        port = free_port()
        env = {
            **os.environ,
            "STET_HOME": str(home),
            "STET_REDIS_URL": redis.url,
            "STET_PORT": str(port),
            "STET_SCORERS": scorer,
        }
        subprocess.run(
            [sys.executable, "-m", "service.app.cli", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        key = subprocess.run(
            [sys.executable, "-m", "service.app.cli", "site", "create", "bench"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
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
                while (pending := count_pending(home / "stet.db")) > 0:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--comments", type=int, default=100)
    args = parser.parse_args()
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
