"""Toxic spans: exact per-character contributions, the span rule, the SemEval metric, the worker."""

from __future__ import annotations

import numpy as np
import pytest
import redis

from service.config import Settings
from service.reasons import ReasonCode
from service.wordlists import WordLists
from tests.conftest import wait_until
from worker import spans, training
from worker.pipeline import CommentContext, Pipeline
from worker.recent import Posting
from worker.scorers.linear import LinearToxicityScorer

TEXTS = [
    "You are a stupid idiot, go die.",
    "Thanks for the thoughtful article about the city budget.",
    "  f**k  this   SHIT!! İstanbul idiots ΣΑΣ ὈΔΥΣΣΕΎΣ",
    "a\u0000b \ud83d idiot 🎉 日本語",
    "",
    "x",
    "idiot idiot idiot, IDIOT",
]


@pytest.fixture(scope="module")
def scorer() -> LinearToxicityScorer:
    return LinearToxicityScorer.load()


def test_contributions_add_up_to_the_models_log_odds(scorer: LinearToxicityScorer) -> None:
    """Every n-gram is found where the vectorizers find it: the per-character shares plus the
    intercept are the model's log-odds, for odd Unicode too."""
    z = scorer.decision_function(TEXTS)
    for text, expected in zip(TEXTS, z, strict=True):
        total, per_char = spans.contributions(scorer, text)
        assert per_char.shape == (len(text),)
        assert total == pytest.approx(expected, abs=1e-9)
        assert scorer.intercept + per_char.sum() == pytest.approx(expected, abs=1e-6)


def test_explain_points_at_the_insult_not_the_rest(scorer: LinearToxicityScorer) -> None:
    """Spans are the words that push the score up most. A clean comment may still have a faintly
    positive word; the worker and ``stet score`` only explain comments above the approve threshold."""
    toxic, clean = scorer.explain(TEXTS[:2])
    heaviest = max(toxic, key=lambda span: span[2])
    assert "idiot" in TEXTS[0][heaviest[0] : heaviest[1]]
    words = [TEXTS[0][start:end] for start, end, _ in toxic]
    assert not any(w.startswith("You") or w == "go" for w in words), words
    assert all(weight > 0 for _, _, weight in toxic)
    assert sum(weight for _, _, weight in clean) < heaviest[2] / 5


def test_explain_handles_every_kind_of_text(scorer: LinearToxicityScorer) -> None:
    explained = scorer.explain(TEXTS)
    assert len(explained) == len(TEXTS)
    for text, found in zip(TEXTS, explained, strict=True):
        for start, end, _ in found:
            assert 0 <= start < end <= len(text)
            assert text[start:end].strip() == text[start:end]


def test_rule_merges_only_across_white_space() -> None:
    text = "you stupid idiot, moron"
    words = [(0, 3, 0.0), (4, 10, 2.0), (11, 16, 3.0), (18, 23, 2.5)]
    merged = spans.SpanRule(min_weight=1.0, merge=True, min_score=0.5).apply(text, 5.0, words)
    assert merged == [(4, 16, 5.0), (18, 23, 2.5)]
    assert spans.SpanRule(min_weight=1.0, merge=False).apply(text, 5.0, words) == words[1:]
    assert spans.SpanRule(min_weight=1.0, min_score=0.5).apply(text, -3.0, words) == []  # p < 0.5
    assert spans.SpanRule(min_weight=0.1, relative=0.9).apply(text, 5.0, words) == [(11, 16, 3.0)]


def test_semeval_post_f1() -> None:
    assert spans.post_f1(set(), set()) == 1.0
    assert spans.post_f1({1, 2}, set()) == 0.0
    assert spans.post_f1(set(), {1, 2}) == 0.0
    assert spans.post_f1({1, 2, 3, 4}, {3, 4, 5, 6}) == pytest.approx(0.5)
    assert spans.span_f1([[(0, 2, 1.0)], []], [{0, 1}, set()]) == 1.0


def test_span_f1_on_held_out_toxic_spans_trial(scorer: LinearToxicityScorer) -> None:
    """The shipped rule was tuned on tsd_train; on the held-out trial posts it reaches F1 >= 0.60."""
    path = training.data_root() / training.SPANS_TRIAL
    if not path.exists():
        pytest.skip(
            f"Toxic Spans trial data not found at {path} (set STET_DATA_DIR to the shared data folder)"
        )
    texts, gold = spans.load_toxic_spans(path)
    f1 = spans.span_f1(scorer.explain(texts), gold)
    assert f1 >= 0.60, f1
    assert scorer.metadata["spans"]["trial_f1"] == pytest.approx(f1, abs=1e-9)
    assert scorer.metadata["spans"]["tuned_on"] == training.SPANS_TRAIN


def _context() -> CommentContext:
    posting = Posting(site_id=1, comment_id=1, author="a", article="b", ip=None, posted_at=0.0)
    return CommentContext(posting=posting, author_comment_count=3, wordlists=WordLists())


def test_pipeline_gives_toxic_spans_as_reasons_above_the_approve_threshold(
    settings: Settings, broker: redis.Redis
) -> None:
    pipeline = Pipeline(settings, broker)
    body = "Thanks for nothing, you pathetic idiot."
    toxicity = pipeline.score(body, _context())[0]
    assert toxicity.scorer == "linear"
    assert toxicity.scores["toxicity"] >= settings.approve_below
    reasons = [r for r in toxicity.reasons if r.code == ReasonCode.TOXIC_SPAN]
    assert reasons
    for reason in reasons:
        ((start, end),) = reason.spans
        assert reason.detail == body[start:end]
        assert reason.weight > 0
    assert any("idiot" in r.detail for r in reasons)

    clean = pipeline.score("Thanks for the clear explanation of the new bus routes.", _context())[0]
    assert clean.scores["toxicity"] < settings.approve_below
    assert clean.reasons == []


@pytest.mark.worker
def test_worker_stores_spans_that_the_api_returns(site, worker) -> None:
    body = "You are a disgusting idiot and a moron, shut up."
    comment_id = site.post_comment(body).get_json()["id"]
    wait_until(lambda: site.status(comment_id) != "pending", 30)
    reasons = [
        r for r in site.get_comment(comment_id).get_json()["reasons"] if r["code"] == ReasonCode.TOXIC_SPAN
    ]
    assert reasons, site.get_comment(comment_id).get_json()
    highlighted = " ".join(body[s:e] for r in reasons for s, e in r["spans"])
    assert "idiot" in highlighted and "moron" in highlighted
    assert all(r["scorer"] == "linear" for r in reasons)
    assert np.all([r["weight"] > 0 for r in reasons])
