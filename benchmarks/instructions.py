"""Instructions per ``POST /api/v1/comments``: Stet against the plain-Flask anchor, counted by callgrind.

Throughput on a shared 2-CPU machine moves by up to 2× between runs (``benchmarks/ingest.py`` prints
it, with its anchor, in alternating rounds); instruction counts do not: valgrind's callgrind counts
the same total for the same code and inputs whatever else the machine is doing. Each app runs in
one process, in Flask's test client (no server, no threads), posting new comments one after another
to SQLite and publishing to a real Redis, once with ``--posts`` comments and once with none; the
difference, divided by ``--posts``, is what one comment costs. Needs ``valgrind`` (Debian's package).
Redis's and SQLite's work in their own processes is not counted; SQLite's in-process work is.

    python -m benchmarks.instructions [--posts 200]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from benchmarks.worker import ROOT, installation

WARM_UP = 20  # posts before counting starts to matter: first imports, caches, pools


def body(i: int) -> dict[str, object]:
    return {
        "external_id": f"e-{i}-{uuid.uuid4().hex[:8]}",
        "article": {"id": f"story-{i % 20}"},
        "author": {"id": f"reader-{i % 40}"},
        "body": f"Comment {i} from a reader: the council should publish the budget.",
    }


def child(app_name: str, posts: int) -> None:
    """Build one app from the environment and post ``WARM_UP + posts`` comments."""
    if app_name == "stet":
        from service.app import create_app
        from service.config import Settings

        client = create_app(Settings.from_env()).test_client()
        url, headers = "/api/v1/comments", {"Authorization": f"Bearer {os.environ['BENCH_KEY']}"}
    else:
        from benchmarks.anchor import Base, create_anchor, engine_for

        database = f"sqlite:///{tempfile.mkdtemp()}/anchor.db"
        Base.metadata.create_all(engine_for(database))
        client = create_anchor(database, os.environ["STET_REDIS_URL"]).test_client()
        url, headers = "/comments", {}
    for i in range(WARM_UP + posts):
        status = client.post(url, json=body(i), headers=headers).status_code
        if status != 202:
            raise SystemExit(f"{app_name}: POST answered {status}")


def count(app_name: str, posts: int, env: dict[str, str]) -> int:
    """Instructions callgrind counted in a child that posts ``posts`` comments after the warm-up."""
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--child",
            app_name,
            "--posts",
            str(posts),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if found is None:
        raise SystemExit(f"no instruction count from valgrind:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--child", choices=("stet", "anchor"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.posts)
        return
    per_post = {}
    with installation("null") as (env, key, _db):
        env = {**env, "BENCH_KEY": key, "PYTHONPATH": str(ROOT)}
        for app_name in ("anchor", "stet"):
            print(f"{app_name}: counting (a few minutes under valgrind)", file=sys.stderr)
            counts = [count(app_name, n, env) for n in (0, args.posts)]
            per_post[app_name] = (counts[1] - counts[0]) / args.posts
    print(f"\n{'app':<8} {'instructions per POST':>22}")
    for app_name, n in per_post.items():
        print(f"{app_name:<8} {n / 1e6:>20.2f} M")
    print(f"\nstet/anchor: {per_post['stet'] / per_post['anchor']:.2f}x the instructions per comment")


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[1])
    main()
