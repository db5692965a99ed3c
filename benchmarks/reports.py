"""Reports benchmark: 1,000,000 comments over 90 days, then every report page timed.

Generates a site's history (comments with their auto decisions, scores and reasons, moderator
decisions for the queued ones, reader reports and feedback) by bulk insert, then renders every
dashboard report page through the app as a logged-in admin, several times, over the last 7 and
the last 30 days, over 30 days for one section, and the model page with the threshold simulator.
The baseline in the same run is the naive way: load the period's comments with their decisions
into Python and count there (volume only, on the 7 days).

    python benchmarks/reports.py [--comments 1000000] [--runs 5] [--postgresql [URL]] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload
from tqdm import tqdm

from service import accounts
from service.app import create_app
from service.config import Settings
from service.db import Database
from service.migrate import upgrade
from service.models import (
    Article,
    Author,
    Comment,
    Decision,
    Feedback,
    Reason,
    Report,
    Role,
    Score,
    Site,
    User,
)

DAYS = 90
SECTIONS = ["politics", "sport", "culture", "business", "local", "opinion"]
WORDS = "the council budget bus route school park vote mayor street tax road plan city money".split()
IDENTITY = ["muslim", "jewish", "gay", "black", "immigrants", "women"]
CHUNK = 20_000


def chunks(rows, size=CHUNK):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def generate(db: Database, n: int, now: datetime, seed: int = 7) -> None:
    """Insert ``n`` comments spread over the ``DAYS`` days before ``now``, with their history."""
    rng = random.Random(seed)
    with db.session() as session:
        site, _key = accounts.create_site(session, "Bench Planet")
        site.timezone = "America/New_York"
        session.flush()
        moderators = [
            accounts.create_user(session, f"mod{i}", Role.MODERATOR, "benchmark!") for i in range(5)
        ]
        accounts.create_user(session, "admin", Role.ADMIN, "benchmark!")
        session.flush()
        site_id, mod_ids = site.id, [m.id for m in moderators]
        n_articles = max(10, n // 400)
        start = now - timedelta(days=DAYS)
        article_times = sorted(
            start + timedelta(seconds=rng.uniform(0, DAYS * 86400)) for _ in range(n_articles)
        )
        session.execute(
            insert(Article),
            [
                {
                    "id": i + 1,
                    "site_id": site_id,
                    "external_id": f"story-{i + 1}",
                    "title": f"Story {i + 1}",
                    "url": f"https://bench.example/story-{i + 1}",
                    "section": rng.choice(SECTIONS),
                    "created_at": t,
                }
                for i, t in enumerate(article_times)
            ],
        )
        n_authors = max(10, n // 20)
        session.execute(
            insert(Author),
            [{"id": i + 1, "site_id": site_id, "external_id": f"reader-{i + 1}"} for i in range(n_authors)],
        )
        session.commit()

    def comment_rows():
        for i in range(n):
            created = now
            while created >= now:  # a comment on a story, hours after it went up (never ahead of now)
                article = rng.randrange(n_articles)
                created = article_times[article] + timedelta(hours=rng.expovariate(1 / 14))
            toxicity = rng.betavariate(0.6, 6)
            spam = rng.betavariate(0.4, 8)
            identity = rng.random() < 0.05
            words = rng.choices(WORDS, k=rng.randint(6, 30))
            if identity:
                words.insert(rng.randrange(len(words)), rng.choice(IDENTITY))
            if toxicity >= 0.97 or spam >= 0.95:
                auto = "rejected"
            elif toxicity >= 0.08 or spam >= 0.5:
                auto = "queued"
            else:
                auto = "approved"
            yield i + 1, article + 1, created, toxicity, spam, auto, " ".join(words)

    progress = tqdm(total=n, desc="comments", unit="c")
    with db.engine.begin() as conn:
        for batch in chunks(comment_rows()):
            comments, decisions, scores, reasons, reports = [], [], [], [], []
            for cid, article, created, toxicity, spam, auto, body in batch:
                scored = created + timedelta(seconds=rng.uniform(0.5, 5))
                decided_by_mod = (
                    auto == "queued" and rng.random() < 0.93 and created < now - timedelta(hours=2)
                )
                status = auto
                decided_at = None if auto == "queued" else scored
                if decided_by_mod:
                    status = "approved" if rng.random() < 0.7 else "rejected"
                    decided_at = scored + timedelta(minutes=rng.expovariate(1 / 40))
                comments.append(
                    {
                        "id": cid,
                        "site_id": site_id,
                        "article_id": article,
                        "author_id": rng.randrange(n_authors) + 1,
                        "body": body,
                        "status": status,
                        "created_at": created,
                        "enqueued_at": created,
                        "decided_at": decided_at,
                        "risk": max(toxicity, spam),
                    }
                )
                decisions.append(
                    {
                        "comment_id": cid,
                        "from_status": "pending",
                        "status": auto,
                        "by": "auto",
                        "reason": auto,
                        "details": {"category": "clean" if auto == "approved" else "uncertain"},
                        "user_id": None,
                        "created_at": scored,
                    }
                )
                if decided_by_mod:
                    decisions.append(
                        {
                            "comment_id": cid,
                            "from_status": "queued",
                            "status": status,
                            "by": "moderator",
                            "user_id": rng.choice(mod_ids),
                            "reason": status,
                            "details": None,
                            "created_at": decided_at,
                        }
                    )
                for label, value in (("toxicity", toxicity), ("spam", spam)):
                    scores.append(
                        {
                            "comment_id": cid,
                            "scorer": "linear",
                            "model_version": "1",
                            "label": label,
                            "value": value,
                            "created_at": scored,
                        }
                    )
                if auto != "approved":
                    label = "insult" if toxicity > spam else "links"
                    reasons.append(
                        {
                            "comment_id": cid,
                            "scorer": "linear",
                            "model_version": "1",
                            "code": label,
                            "weight": 1.0,
                            "detail": label,
                            "spans": [],
                            "created_at": scored,
                        }
                    )
                if rng.random() < 0.02:
                    reports.append(
                        {
                            "site_id": site_id,
                            "comment_id": cid,
                            "reporter_id": f"r{cid}",
                            "reason": rng.choice(["offensive", "abusive", "spam", "off_topic", "other"]),
                            "weight": 1.0,
                            "created_at": created + timedelta(minutes=rng.uniform(1, 600)),
                            "resolution": rng.choice([None, "upheld", "dismissed"]),
                        }
                    )
            for model, rows in (
                (Comment, comments),
                (Decision, decisions),
                (Score, scores),
                (Reason, reasons),
                (Report, reports),
            ):
                if rows:
                    conn.execute(insert(model), rows)
            progress.update(len(batch))
        progress.close()
        conn.execute(
            insert(Feedback),
            [
                {
                    "site_id": site_id,
                    "article_id": rng.randrange(n_articles) + 1,
                    "category": rng.choice(["cannot_post", "login", "missing_comment", "other"]),
                    "message": "It did not work",
                    "created_at": now - timedelta(seconds=rng.uniform(0, DAYS * 86400)),
                }
                for _ in range(max(10, n // 500))
            ],
        )


def naive_volume(db: Database, start: datetime, end: datetime) -> dict[str, int]:
    """The baseline: every comment of the period and its decisions loaded and counted in Python."""
    counts = {"received": 0, "approved": 0, "rejected": 0, "queued": 0, "moderator": 0}
    with db.session() as session:
        comments = session.scalars(
            select(Comment)
            .where(Comment.created_at >= start, Comment.created_at < end)
            .options(selectinload(Comment.decisions))
        )
        for comment in comments:
            counts["received"] += 1
            for decision in comment.decisions:
                counts["moderator" if decision.by == "moderator" else decision.status] += 1
    return counts


def timed(fn, runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgresql", nargs="?", const="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--keep",
        type=Path,
        help="build (or reuse) the SQLite database in this folder; with --postgresql, keep (or reuse) "
        "the database stet_bench_keep",
    )
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="stet-reports-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(microsecond=0)
    admin_url = None
    if args.postgresql:
        import psycopg

        admin_url = args.postgresql
        name = "stet_bench_keep" if args.keep else f"stet_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    else:
        url = f"sqlite:///{home / 'stet.db'}"
    try:
        upgrade(url)
        db = Database(url)
        with db.session() as session:
            fresh = session.scalar(select(Site.id)) is None
        if fresh:
            began = time.perf_counter()
            generate(db, args.comments, now)
            print(f"generated {args.comments:,} comments in {time.perf_counter() - began:.0f} s")
            # What autovacuum would do in time on PostgreSQL (autocommit: ANALYZE in a rolled-back
            # transaction keeps no statistics).
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        results = run_pages(db, url, home, args.runs)
        print(json.dumps(results, indent=2))
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
        if admin_url and not args.keep:
            db.engine.dispose()
            import psycopg

            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_pages(db: Database, url: str, home: Path, runs: int) -> dict:
    from service.reporting import REPORTS, rollup

    settings = Settings(home=home, database_url=url, secret_key="bench", redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings)
    app.config.update(TESTING=True, WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=False)
    client = app.test_client()
    with db.session() as session:
        admin = session.scalar(select(User).where(User.name == "admin"))
    with client.session_transaction() as cookie:
        cookie["_user_id"] = str(admin.id)
        cookie["_fresh"] = True
    results: dict = {"database": db.engine.dialect.name, "pages_ms": {}}
    pages: dict[str, str] = {}
    with db.session() as session:  # what the worker's beat task does (the first time: everything)
        began = time.perf_counter()
        rollup.fill_site(session, session.scalar(select(Site)), settings)
        results["rollup_fill_s"] = round(time.perf_counter() - began, 1)
    variants = [("7d", "", ""), ("30d", "", ""), ("30d", f"&section={SECTIONS[0]}", f" {SECTIONS[0]}")]
    for preset, query, label in variants:
        for name in REPORTS:
            pages[f"{name} {preset}{label}"] = f"/dashboard/reports/{name}?range={preset}{query}"
    for preset in ("7d", "30d"):  # the model page with the threshold simulator at other thresholds
        pages[f"model {preset} simulator"] = (
            f"/dashboard/reports/model?range={preset}&approve_below=0.1&reject_above=0.9"
        )
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        median, _all = timed(lambda path=path: client.get(path), runs)
        results["pages_ms"][name] = round(median, 1)
    end = datetime.now(UTC)
    median, _all = timed(lambda: naive_volume(db, end - timedelta(days=7), end), max(1, runs // 2))
    results["baseline_naive_volume_7d_ms"] = round(median, 1)
    results["slowest_page_ms"] = max(results["pages_ms"].values())
    return results


if __name__ == "__main__":
    main()
