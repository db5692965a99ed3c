"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.models import Base


def test_migrated_database_matches_the_models(database):
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_an_installation_with_comments_upgrades_to_the_latest_schema(tmp_path):
    """Upgrading keeps every row and reference (SQLite rebuilds tables that others point at)."""
    from sqlalchemy import create_engine, text

    from service.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sites (id, name, created_at) VALUES (1, 'Planet', '2026-01-01')"))
        conn.execute(
            text(
                "INSERT INTO articles (id, site_id, external_id, created_at) VALUES (1, 1, 'a', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO authors (id, site_id, external_id, created_at) VALUES (1, 1, 'u', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO comments (id, site_id, article_id, author_id, body, status, created_at)"
                " VALUES (1, 1, 1, 1, 'As a gay man I liked it', 'queued', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO scores (comment_id, scorer, model_version, label, value, created_at)"
                " VALUES (1, 'linear', '1', 'toxicity', 0.4, '2026-01-01')"
            )
        )
    engine.dispose()

    upgrade(url)

    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT status, risk, hidden FROM comments WHERE id = 1")).one()
        assert tuple(row) == ("queued", 0.4, 0)
        assert conn.execute(text("SELECT comments_open, premoderation FROM articles")).one() == (1, "off")
        assert conn.execute(text("PRAGMA foreign_key_check")).fetchall() == []
    engine.dispose()
