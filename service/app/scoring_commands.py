"""``stet score``, ``stet rescore`` and ``stet model eval``: scoring outside the worker.

``stet score [FILE|-]`` reads JSON lines ``{"id": ..., "text": ...}`` and writes one JSON line per
input line, in input order. The output format is stable (fields may be added, never renamed)::

    {"id": "c-1", "scores": {"toxicity": 0.97, "obscene": 0.61, ..., "spam": 0.02},
     "spans": [{"start": 10, "end": 16, "text": "idiots", "weight": 4.18}],
     "models": {"linear": "tfidf-lr-2", "spam": "spam-tfidf-lr-2+signals-1"},
     "language": "en", "language_validated": true}
    {"id": "c-2", "line": 2, "error": "\"text\" must be a string"}

``scores`` holds every label of the toxicity scorer (``--scorer``, default ``STET_SCORERS``) and
``spam`` (content model and signals; the worker also weighs repetition, bursts and the site's
lists, which an archive does not have). ``spans`` are the toxic spans (start, end exclusive, in
characters), computed like the worker's: only for texts scoring at least ``STET_APPROVE_BELOW``,
otherwise ``[]``. ``language`` is the detected language (``--language``, the archive's own, when
the text is too short to tell), and ``language_validated`` whether the scorer is validated for it
(the worker holds comments in other languages for a person). A line that is not such an object
gives an ``error`` line with its ``id`` (when it has one) and line number; scoring goes on.

``stet rescore`` adds the current model version's scores to stored comments, as ``Score`` rows
(one per comment, scorer, version and label). It never re-decides a comment: a decision was made,
and perhaps confirmed by a moderator, on the scores of its time; rescoring is for comparing
versions and for reports. Pending comments are left to the worker, which scores them anyway.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click
from sqlalchemy import exists, select
from tqdm import tqdm

from service import language, moderation
from service.app.common import env_settings
from service.models import Comment, Score, Status
from worker.scorers import Explainer, Scorer, load_scorer

BATCH = 256


def _parse(line: str) -> tuple[Any, str | None, str | None]:
    """(id, text, error) of one input line."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, f"not JSON: {exc.msg}"
    if not isinstance(row, dict):
        return None, None, 'expected an object {"id": ..., "text": ...}'
    ident = row.get("id")
    if "id" not in row:
        return None, None, 'missing "id"'
    if not isinstance(ident, str | int) or isinstance(ident, bool):
        return None, None, '"id" must be a string or an integer'
    if not isinstance(row.get("text"), str):
        return ident, None, '"text" must be a string'
    return ident, row["text"], None


class ArchiveScorer:
    """Scores texts as ``stet score`` prints them: every label, spam, spans, model versions."""

    def __init__(
        self, toxicity: Scorer, spam: Scorer | None, explain_above: float, expected: str = "en"
    ) -> None:
        self.toxicity = toxicity
        self.expected = expected
        self.spam = spam
        self.explain_above = explain_above
        self.models = {toxicity.name: toxicity.version}
        if spam is not None:
            self.models[spam.name] = spam.version

    def score(self, texts: list[str]) -> list[dict[str, Any]]:
        scores = self.toxicity.score_batch(texts)
        if self.spam is not None:
            for row, spam in zip(scores, self.spam.score_batch(texts), strict=True):
                row.update(spam)
        spans: list[list[tuple[int, int, float]]] = [[] for _ in texts]
        if isinstance(self.toxicity, Explainer):
            todo = [i for i, row in enumerate(scores) if row["toxicity"] >= self.explain_above]
            for i, found in zip(todo, self.toxicity.explain([texts[i] for i in todo]), strict=True):
                spans[i] = found
        return [
            {
                "scores": {label: round(value, 6) for label, value in row.items()},
                "spans": [
                    {"start": s, "end": e, "text": text[s:e], "weight": round(w, 4)} for s, e, w in found
                ],
                "models": self.models,
                "language": spoken,
                "language_validated": spoken in self.toxicity.languages,
            }
            for text, row, found, spoken in zip(texts, scores, spans, self._languages(texts), strict=True)
        ]

    def _languages(self, texts: list[str]) -> list[str]:
        return [language.detect(text, self.expected) or self.expected for text in texts]

    def lines(self, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
        """One output object per input line, in order, scoring in batches."""
        pending: list[tuple[int, Any, str | None, str | None]] = []

        def flush() -> Iterator[dict[str, Any]]:
            texts = [text for _, _, text, error in pending if error is None]
            results = iter(self.score(texts)) if texts else iter(())
            for number, ident, _, error in pending:
                if error is None:
                    yield {"id": ident, **next(results)}
                else:
                    yield {"id": ident, "line": number, "error": error}
            pending.clear()

        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            pending.append((number, *_parse(line)))
            if len(pending) >= BATCH:
                yield from flush()
        yield from flush()


@click.command("score")
@click.argument("source", default="-", type=click.File("r", encoding="utf-8", errors="surrogateescape"))
@click.option("--scorer", "scorer_name", help="Toxicity scorer (default: STET_SCORERS).")
@click.option("--no-spam", is_flag=True, help="Leave the spam score out.")
@click.option(
    "--language", "expected", default="en", show_default=True, help="The archive's language (ISO 639-1)."
)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="Default: stdout.")
def score(source: TextIO, scorer_name: str | None, no_spam: bool, expected: str, output: TextIO) -> None:
    """Score JSON lines {"id", "text"} from SOURCE (a file, or - for standard input)."""
    settings = env_settings()
    spam = None
    if settings.spam and not no_spam:
        from worker.scorers.spam import SpamScorer

        spam = SpamScorer.load()
    archive = ArchiveScorer(_load(scorer_name or settings.scorers), spam, settings.approve_below, expected)
    errors = 0
    with tqdm(desc="scoring", unit=" comments", file=sys.stderr) as bar:
        for result in archive.lines(source):
            errors += "error" in result
            output.write(json.dumps(result) + "\n")  # ASCII: safe for lone surrogates in ids and texts
            bar.update()
    if errors:
        click.echo(f'{errors} line(s) could not be scored (see their "error")', err=True)


def _load(name: str) -> Scorer:
    try:
        return load_scorer(name)
    except (ValueError, RuntimeError, OSError, ImportError) as exc:
        raise click.ClickException(f"scorer {name!r}: {exc}") from None


def rescore_comments(
    session: Any,
    scorer: Scorer,
    *,
    statuses: Iterable[str] = (Status.QUEUED, Status.APPROVED, Status.REJECTED),
    since: datetime | None = None,
    progress: bool = True,
) -> int:
    """Add ``scorer``'s scores to the matching comments that lack its current version; commits
    every batch. Never changes a comment's status. Returns how many comments were scored."""
    statuses = [Status(s).value for s in statuses if Status(s) != Status.PENDING]
    already = exists().where(
        Score.comment_id == Comment.id, Score.scorer == scorer.name, Score.model_version == scorer.version
    )
    query = select(Comment.id, Comment.body).where(Comment.status.in_(statuses), ~already)
    if since is not None:
        query = query.where(Comment.created_at >= since)
    rows = session.execute(query.order_by(Comment.id)).all()
    with tqdm(total=len(rows), desc=f"rescoring with {scorer.name} {scorer.version}", unit=" comments",
              file=sys.stderr, disable=not progress) as bar:  # fmt: skip
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            for (comment_id, _), scores in zip(
                batch, scorer.score_batch([body for _, body in batch]), strict=True
            ):
                session.add_all(moderation.score_rows(comment_id, scorer.name, scorer.version, scores))
            session.commit()
            bar.update(len(batch))
    return len(rows)


@click.command("rescore")
@click.option("--scorer", "scorer_name", help="Toxicity scorer (default: STET_SCORERS).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in (Status.QUEUED, Status.APPROVED, Status.REJECTED)]),
    help="Only comments with this status (repeatable; default: every decided or queued comment).",
)
@click.option("--since", type=click.DateTime(), help="Only comments posted at or after this time (UTC).")
def rescore(scorer_name: str | None, statuses: tuple[str, ...], since: datetime | None) -> None:
    """Score stored comments with the current model version; decisions stay as they are."""
    from service.db import Database

    settings = env_settings()
    scorer = _load(scorer_name or settings.scorers)
    with Database(settings.sqlalchemy_url).session() as session:
        kwargs: dict[str, Any] = {"statuses": statuses} if statuses else {}
        done = rescore_comments(session, scorer, since=since and since.replace(tzinfo=UTC), **kwargs)
    click.echo(f"scored {done} comment(s) with {scorer.name} {scorer.version}", err=True)


def model_eval(
    scorers: tuple[str, ...], model_path: Path | None, data: Path | None, out: Path, limit: int | None
) -> None:
    """The body of ``stet model eval --task toxicity``: print the Markdown report and write it."""
    from worker.scorers.linear import LinearToxicityScorer
    from worker.training import evaluation

    ready = {"linear": LinearToxicityScorer.load(model_path)} if model_path else None
    command = " ".join(
        [
            "stet model eval",
            *(f"--scorer {name}" for name in scorers),
            *([f"--limit {limit}"] if limit else []),
        ]
    )
    report = evaluation.evaluate(
        scorers or None,
        root=data,
        out_dir=out,
        limit=limit,
        scorers=ready,
        command=command,
        log=lambda line: click.echo(line, err=True),
    )
    click.echo(evaluation.markdown(report))
    click.echo(f"wrote {out / 'report.md'}, report.json and {len(report['plots'])} plots", err=True)
