"""The ingest benchmark's anchor: the least a comment API can do, served the way ``stet api`` is.

A plain Flask + SQLAlchemy 2 + pydantic app that validates a posted comment, inserts it, commits and
publishes a Celery message naming it, behind gunicorn with the same workers and threads as Stet's
server. ``benchmarks/ingest.py`` runs it beside Stet so Stet's ingest is a ratio to this.

    python -m benchmarks.anchor DATABASE_URL REDIS_URL PORT WORKERS THREADS
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from celery import Celery
from flask import Flask, request
from gunicorn.app.base import BaseApplication
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import DateTime, Engine, String, Text, UniqueConstraint, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column


class Base(DeclarativeBase):
    pass


class Comment(Base):
    __tablename__ = "anchor_comments"
    __table_args__ = (UniqueConstraint("external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200))
    article: Mapped[str] = mapped_column(String(200))
    author: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Ref(BaseModel):
    id: str = Field(min_length=1, max_length=200)


class CommentIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=200)
    article: Ref
    author: Ref
    body: str = Field(min_length=1, max_length=10_000)


def engine_for(database_url: str) -> Engine:
    """An engine with the SQLite pragmas Stet uses too (WAL, synchronous NORMAL), so neither side
    of the comparison gets a cheaper commit."""
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA synchronous=NORMAL")
            dbapi_conn.execute("PRAGMA busy_timeout=30000")

    return engine


def create_anchor(database_url: str, redis_url: str) -> Flask:
    engine = engine_for(database_url)
    celery = Celery(broker=redis_url)
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz():
        return "ok"

    @app.post("/comments")
    def create():
        try:
            data = CommentIn.model_validate(request.get_json())
        except ValidationError as exc:
            return {"error": exc.errors(include_url=False, include_context=False)}, 422
        with Session(engine) as session:
            comment = Comment(
                external_id=data.external_id,
                article=data.article.id,
                author=data.author.id,
                body=data.body,
                created_at=datetime.now(UTC),
            )
            session.add(comment)
            session.commit()
            celery.send_task("anchor.score", args=[comment.id])
            return {"id": comment.id, "status": "pending"}, 202

    return app


class AnchorServer(BaseApplication):
    def __init__(self, database_url: str, redis_url: str, port: int, workers: int, threads: int):
        self.database_url, self.redis_url = database_url, redis_url
        self.options = {"bind": f"127.0.0.1:{port}", "workers": workers, "worker_class": "gthread"}
        self.options["threads"] = threads
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_anchor(self.database_url, self.redis_url)


if __name__ == "__main__":
    database_url, redis_url, port, workers, threads = sys.argv[1:6]
    Base.metadata.create_all(engine_for(database_url))  # once, before the workers fork
    AnchorServer(database_url, redis_url, int(port), int(workers), int(threads)).run()
