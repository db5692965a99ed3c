"""Flood benchmark: does one site's flood slow down another site's comments?

A real ``stet api`` on the embedded defaults (SQLite, Stet's own Redis), two sites. The *victim*
site posts comments at a steady rate; meanwhile the *flooder* site either

  none      sends nothing (the baseline, measured in the same run)
  429s      hammers ``GET /api/v1/comments/1`` from many threads, far past its rate limit
  spans     sends Perspective ``comments:analyze`` requests with span annotations on
            10,000-character texts, the most expensive call the API has

and the victim's POST latency (p50, p95, worst) is printed per scenario, with how the flooder's
requests were answered.

    python -m benchmarks.flood [--seconds 20] [--rate 5] [--threads 16] [--workers N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx

from benchmarks.burst import wait_http
from benchmarks.worker import installation, stet, stop
from service.config import Settings

LONG = ("The council's budget hearing ran long and nobody explained the bus routes. " * 140)[:10_000]


def victim(base: str, key: str, rate: float, seconds: float, out: list[float]) -> None:
    """POST comments at ``rate`` per second; every latency (a time-out counts as 10 s) to ``out``."""
    with httpx.Client(timeout=10) as client:
        start = time.monotonic()
        n = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + n / rate
            if now < due:
                time.sleep(due - now)
            body = {"article": {"id": f"a{n % 5}"}, "author": {"id": f"r{n}"}, "body": f"Comment {n}, fair."}
            began = time.perf_counter()
            try:
                client.post(f"{base}/api/v1/comments", json=body, headers={"Authorization": f"Bearer {key}"})
                out.append(time.perf_counter() - began)
            except httpx.HTTPError:
                out.append(10.0)
            n += 1


def flooder(base: str, key: str, kind: str, stop_at: float, answers: Counter[int]) -> None:
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < stop_at:
            try:
                if kind == "429s":
                    answer = client.get(
                        f"{base}/api/v1/comments/1", headers={"Authorization": f"Bearer {key}"}
                    )
                else:
                    request = {
                        "comment": {"text": LONG},
                        "requestedAttributes": {"TOXICITY": {}, "THREAT": {}},
                        "spanAnnotations": True,
                    }
                    answer = client.post(f"{base}/v1alpha1/comments:analyze?key={key}", json=request)
                answers[answer.status_code] += 1
            except httpx.HTTPError:
                answers[0] += 1


def scenario(base: str, keys: tuple[str, str], kind: str, args: argparse.Namespace) -> dict[str, object]:
    """One scenario; ``keys`` are the victim's and a flooder's that no other scenario used."""
    latencies: list[float] = []
    answers: Counter[int] = Counter()
    stop_at = time.monotonic() + args.seconds
    threads = (
        []
        if kind == "none"
        else [
            threading.Thread(target=flooder, args=(base, keys[1], kind, stop_at, answers), daemon=True)
            for _ in range(args.threads)
        ]
    )
    for thread in threads:
        thread.start()
    victim(base, keys[0], args.rate, args.seconds, latencies)
    for thread in threads:
        thread.join(60)
    latencies.sort()
    return {
        "scenario": kind,
        "victim POSTs": len(latencies),
        "p50 ms": round(1000 * statistics.median(latencies)),
        "p95 ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))]),
        "worst ms": round(1000 * latencies[-1]),
        "flooder answers": dict(sorted(answers.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=5, help="victim comments per second")
    parser.add_argument("--threads", type=int, default=16, help="flooding threads")
    parser.add_argument("--workers", type=int, default=None, help="stet api --workers (default: its own)")
    args = parser.parse_args()
    # The default scorer and the site limit as shipped (the victim stays inside it).
    scorer = Settings().scorers
    kinds = ("none", "429s", "spans")
    with installation(scorer, STET_RATE_LIMIT_SITE=Settings().rate_limit_site) as (env, victim_key, _db):
        run = {"env": env, "check": True, "capture_output": True, "text": True}
        create = [sys.executable, "-m", "service.app.cli", "site", "create"]
        # A fresh flooder per scenario: the site limit's window would carry one flood into the next.
        flood_keys = [subprocess.run([*create, f"flood-{kind}"], **run).stdout.strip() for kind in kinds]
        base = f"http://127.0.0.1:{env['STET_PORT']}"
        api = stet(env, "api", *(["--workers", str(args.workers)] if args.workers else []))
        try:
            wait_http(f"{base}/healthz", 120)
            rows = [
                scenario(base, (victim_key, key), kind, args)
                for kind, key in zip(kinds, flood_keys, strict=True)
            ]
        finally:
            stop(api)
    print(f"\nscorer {scorer}; victim at {args.rate}/s for {args.seconds:.0f} s per scenario;", end=" ")
    print(f"{args.threads} flooding threads; stet api --workers {args.workers or 'default'}")
    print("| scenario | victim POSTs | p50 ms | p95 ms | worst ms | flooder's answers (status: count) |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(value) for value in row.values()) + " |")


if __name__ == "__main__":
    main()
