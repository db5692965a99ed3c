"""Queue benchmark: the dashboard's server time with 100,000 comments waiting for a moderator.

Fills a fresh, migrated store (an SQLite file, or a new PostgreSQL database with --postgresql)
with queued, scored comments by bulk insert, then times through Flask's test client:

  queue page, first       GET /dashboard/ (risk order, 25 cards)
  queue page, deep        a keyset page half-way down, with a risk-range filter
  approve                 POST .../approve of a different comment each time (htmx)

and, as the baseline in the same run, the same deep page's ids fetched with OFFSET instead of
the keyset cursor (database time only). Targets: page < 150 ms, approve < 50 ms at the median.

    python benchmarks/dashboard_queue.py [--comments 100000] [--repeat 100] [--postgresql [URL]]

(as a module: run as a script, this file would shadow the standard library's ``queue``).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from tqdm import tqdm

from service import accounts
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.migrate import upgrade
from service.models import Article, Author, Comment, Decision, Role, Score, Site, Status, utcnow
from service.moderation import queues

CHUNK = 5_000
TARGETS = {"page": 0.150, "approve": 0.050}


def fill(db: Database, n: int) -> None:
    """``n`` queued comments over 500 articles and 5,000 authors, each with a toxicity score and
    the policy's decision, inserted in chunks (as executemany)."""
    rng = random.Random(7)
    with db.session() as session:
        site = Site(name="Bench")
        session.add(site)
        session.flush()
        session.execute(
            insert(Article),
            [{"site_id": site.id, "external_id": f"a{i}", "title": f"Story {i}"} for i in range(500)],
        )
        session.execute(
            insert(Author),
            [{"site_id": site.id, "external_id": f"r{i}", "name": f"Reader {i}"} for i in range(5000)],
        )
        first_article = session.scalar(select(Article.id).order_by(Article.id))
        first_author = session.scalar(select(Author.id).order_by(Author.id))
        session.commit()
        start = utcnow() - timedelta(days=30)
        next_id = 1
        for offset in tqdm(range(0, n, CHUNK), desc="filling", unit="chunk"):
            size = min(CHUNK, n - offset)
            ids = range(next_id, next_id + size)
            risks = [round(rng.uniform(0.08, 0.97), 6) for _ in ids]
            when = [start + timedelta(seconds=i * 20) for i in ids]
            session.execute(
                insert(Comment),
                [
                    {
                        "id": i,
                        "site_id": site.id,
                        "article_id": first_article + rng.randrange(500),
                        "author_id": first_author + rng.randrange(5000),
                        "body": f"Comment {i} on the council budget and the bridge, more or less politely.",
                        "status": Status.QUEUED.value,
                        "created_at": when[k],
                        "enqueued_at": when[k],
                        "risk": risks[k],
                    }
                    for k, i in enumerate(ids)
                ],
            )
            session.execute(
                insert(Score),
                [
                    {
                        "comment_id": i,
                        "scorer": "linear",
                        "model_version": "1",
                        "label": "toxicity",
                        "value": risks[k],
                    }
                    for k, i in enumerate(ids)
                ],
            )
            session.execute(
                insert(Decision),
                [
                    {
                        "comment_id": i,
                        "from_status": "pending",
                        "status": "queued",
                        "by": "auto",
                        "reason": f"toxicity {risks[k]:.2f} between 0.08 and 0.97: a person decides",
                        "created_at": when[k],
                    }
                    for k, i in enumerate(ids)
                ],
            )
            session.commit()
            next_id += size
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")


def timed(what: str, repeat: int, call: Callable[[int], object]) -> list[float]:
    times = []
    for n in tqdm(range(repeat), desc=what, unit="req", leave=False):
        began = time.perf_counter()
        call(n)
        times.append(time.perf_counter() - began)
    return times


def report(name: str, times: list[float], target: float | None) -> None:
    median = statistics.median(times)
    p95 = statistics.quantiles(times, n=20)[-1]
    verdict = (
        "" if target is None else f"  target {target * 1000:.0f} ms: {'met' if median < target else 'MISSED'}"
    )
    print(f"  {name:<34} median {median * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms{verdict}")


def run(url: str, n: int, repeat: int, home: Path) -> None:
    upgrade(url)
    db = Database(url)
    began = time.perf_counter()
    fill(db, n)
    print(f"filled {n:,} queued comments in {time.perf_counter() - began:.1f} s ({db.engine.dialect.name})")
    with db.session() as session:
        accounts.create_user(session, "bench", Role.MODERATOR, "benchmark password")
        session.commit()
    app = create_app(
        Settings(home=home, database_url=url, secret_key="bench", redis_url="redis://127.0.0.1:1/0")
    )
    app.config["RATELIMIT_ENABLED"] = False
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/login").text).group(1)
    client.post(
        "/dashboard/login", data={"name": "bench", "password": "benchmark password", "csrf_token": token}
    )
    assert client.get("/dashboard/").status_code == 200

    filters = queues.Filters(min_risk=0.2, max_risk=0.9)
    middle = n // 2
    with db.session() as session:  # the cursor a moderator holds after scrolling half-way down
        base = select(Comment.risk, Comment.id).where(
            queues.in_queue(queues.Queue.REVIEW), Comment.risk.is_not(None), *filters.conditions()
        )
        ordered = base.order_by(Comment.risk.desc(), Comment.id.desc())
        risk, last_id = session.execute(ordered.offset(middle // 2).limit(1)).one()
    deep = f"/dashboard/?min_risk=0.2&max_risk=0.9&cursor=r:{risk!r}:{last_id}"
    assert client.get(deep).status_code == 200

    print(f"server time over {repeat} requests each:")
    report(
        "queue page, first", timed("first page", repeat, lambda _: client.get("/dashboard/")), TARGETS["page"]
    )
    report(
        "queue page, deep keyset + filter",
        timed("deep page", repeat, lambda _: client.get(deep)),
        TARGETS["page"],
    )
    with db.session() as session:

        def keyset_ids(_: int) -> None:
            queues.page(session, queues.Queue.REVIEW, filters, f"r:{risk!r}:{last_id}")

        def offset_ids(_: int) -> None:
            session.execute(
                ordered.with_only_columns(Comment.id).offset(middle // 2).limit(queues.PAGE_SIZE + 1)
            ).all()

        report("  ids only, keyset (database)", timed("keyset ids", repeat, keyset_ids), None)
        report("  ids only, OFFSET baseline", timed("offset ids", repeat, offset_ids), None)
        top = list(session.scalars(ordered.with_only_columns(Comment.id).limit(repeat)))
    htmx = {"HX-Request": "true"}
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/dashboard/").text).group(1)

    def approve(k: int) -> None:
        response = client.post(
            f"/dashboard/comments/{top[k]}/approve", data={"csrf_token": token}, headers=htmx
        )
        assert response.status_code == 200, response.status_code

    report("approve (htmx)", timed("approve", repeat, approve), TARGETS["approve"])
    app.extensions["stet.db"].engine.dispose()
    db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument(
        "--postgresql",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/postgres",
        help="also run on a new database on this PostgreSQL server (default: local, trust auth)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        print("== SQLite")
        run(f"sqlite:///{home / 'bench.db'}", args.comments, args.repeat, home)
        if args.postgresql:
            import psycopg

            name = f"stet_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.postgresql, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                print("== PostgreSQL")
                base = args.postgresql.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
                run(f"{base}/{name}", args.comments, args.repeat, home)
            finally:
                with psycopg.connect(args.postgresql, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
