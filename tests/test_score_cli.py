"""``stet score`` (JSON lines in, JSON lines out) and ``stet rescore`` (stored comments, new version)."""

from __future__ import annotations

import json

from sqlalchemy import select

from service import accounts, moderation
from service.models import Comment, Decision, Score
from service.schemas import CommentIn
from tests.conftest import stet
from worker.scorers.linear import LinearToxicityScorer
from worker.scorers.spam import SpamScorer

LINES = [
    {"id": "c-1", "text": "Thanks for the clear explanation of the new bus routes."},
    {"id": 2, "text": "You are a pathetic idiot, shut up."},
    {"id": "c-3", "text": ""},
    {"id": "c-4", "text": "Ünïcödé 🎉 \ud83d broken surrogate"},
]


def test_score_round_trip_from_standard_input(settings) -> None:
    lines = [json.dumps(line) for line in LINES]
    lines.insert(2, "{not json")
    lines.insert(3, json.dumps({"id": "c-x", "text": 7}))
    lines.insert(4, json.dumps(["a list"]))
    result = stet(settings, "score", "-", input="\n".join(lines) + "\n\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(lines)  # one line per non-empty input line, in order

    linear, spam = LinearToxicityScorer.load(), SpamScorer.load()
    good = [row for row in out if "error" not in row]
    assert [row["id"] for row in good] == [line["id"] for line in LINES]
    for row, line in zip(good, LINES, strict=True):
        assert set(row) == {"id", "scores", "spans", "models", "language", "language_validated"}
        # too short or too odd to tell (c-3, c-4): the archive's language, English by default
        assert (row["language"], row["language_validated"]) == ("en", True)
        assert set(row["scores"]) == {*linear.labels, "spam"}
        assert all(0.0 <= v <= 1.0 for v in row["scores"].values())
        assert row["models"] == {"linear": linear.version, "spam": spam.version}
        expected = linear.score_batch([line["text"]])[0]
        for label, value in expected.items():
            assert abs(row["scores"][label] - value) < 1e-5
        for span in row["spans"]:
            assert line["text"][span["start"] : span["end"]] == span["text"]

    clean, toxic = good[0], good[1]
    assert clean["scores"]["toxicity"] < 0.08 and clean["spans"] == []
    assert toxic["scores"]["toxicity"] > 0.9
    assert any("idiot" in span["text"] for span in toxic["spans"])

    errors = [row for row in out if "error" in row]
    assert [(e["id"], e["line"]) for e in errors] == [(None, 3), ("c-x", 4), (None, 5)]
    assert "not JSON" in errors[0]["error"] and '"text"' in errors[1]["error"]
    assert "3 line(s) could not be scored" in result.stderr
    assert "scoring" in result.stderr  # the progress bar


def test_score_reads_a_file_and_refuses_an_unknown_scorer(settings, tmp_path) -> None:
    source = tmp_path / "archive.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in LINES), encoding="utf-8")
    with source.open("ab") as f:  # Latin-1 bytes in a UTF-8 file and an id with a lone surrogate
        f.write(b'{"id": "latin-1", "text": "caf\xe9 au lait"}\n{"id": "\\udc80", "text": "ok"}\n')
    result = stet(settings, "score", str(source), "--no-spam")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [line["id"] for line in LINES] + ["latin-1", "\udc80"]
    assert all("spam" not in r["scores"] and list(r["models"]) == ["linear"] for r in rows)

    refused = stet(settings, "score", str(source), "--scorer", "nonsense")
    assert refused.returncode != 0 and "unknown scorer" in refused.stderr


def _comment(db, site_key: str, settings, body: str, toxicity: float | None) -> int:
    """A stored comment; with ``toxicity`` it was decided by an older model ("test" version 1)."""
    data = CommentIn.model_validate(
        {"article": {"id": "story-1"}, "author": {"id": "reader-1"}, "body": body}
    )
    with db.session() as session:
        site = accounts.site_for_key(session, site_key)
        comment_id = moderation.submit_comment(session, site, data).comment.id
        session.commit()
        if toxicity is not None:
            result = moderation.ScorerResult("linear", "old-1", {"toxicity": toxicity})
            moderation.record_scores(session, comment_id, [result], settings)
    return comment_id


def _state(db) -> dict[int, tuple[str, int, set[tuple[str, str]]]]:
    with db.session() as session:
        out = {}
        for comment in session.scalars(select(Comment)):
            versions = {
                (s.scorer, s.model_version)
                for s in session.scalars(select(Score).where(Score.comment_id == comment.id))
            }
            decisions = len(session.scalars(select(Decision).where(Decision.comment_id == comment.id)).all())
            out[comment.id] = (comment.status, decisions, versions)
        return out


def test_rescore_adds_the_current_version_without_re_deciding(settings, db, site_key) -> None:
    linear = LinearToxicityScorer.load()
    queued = _comment(db, site_key, settings, "You are a pathetic idiot.", 0.5)
    approved = _comment(db, site_key, settings, "Thanks for the clear report.", 0.01)
    pending = _comment(db, site_key, settings, "Still waiting for the worker.", None)
    before = _state(db)

    result = stet(settings, "rescore", "--status", "approved")
    assert result.returncode == 0, result.stderr
    assert f"scored 1 comment(s) with linear {linear.version}" in result.stderr
    assert "rescoring" in result.stderr  # the progress bar
    assert (("linear", linear.version) in _state(db)[approved][2]) and (
        ("linear", linear.version) not in _state(db)[queued][2]
    )

    result = stet(settings, "rescore")
    assert result.returncode == 0, result.stderr
    assert "scored 1 comment(s)" in result.stderr  # only the queued one was still missing
    after = _state(db)
    for comment_id in (queued, approved):
        status, decisions, versions = after[comment_id]
        assert (status, decisions) == before[comment_id][:2]  # never re-decided
        assert versions == {("linear", "old-1"), ("linear", linear.version)}
    assert after[pending] == before[pending]  # pending comments are left to the worker

    with db.session() as session:
        scores = {
            s.label: s.value
            for s in session.scalars(
                select(Score).where(Score.comment_id == queued, Score.model_version == linear.version)
            )
        }
    assert set(scores) == set(linear.labels)
    assert abs(scores["toxicity"] - linear.score_batch(["You are a pathetic idiot."])[0]["toxicity"]) < 1e-9

    again = stet(settings, "rescore")
    assert again.returncode == 0 and "scored 0 comment(s)" in again.stderr
    assert stet(settings, "rescore", "--since", "2999-01-01").stderr.count("scored 0 comment(s)") == 1
