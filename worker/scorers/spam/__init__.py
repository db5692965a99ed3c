"""The spam scorer: a content model and named signals combined into one score, with reasons.

``SpamScorer.assess`` normalises a comment once (``normalize``), scores its ``plain`` form with the
compact content model (hashed TF-IDF + logistic regression trained on the YouTube Spam Collection,
with news-site comments from Civil Comments as lightly weighted extra ham; ``worker/training/spam.py``),
detects the signals (``signals.detect``) and matches the site's word lists (``wordlists``).
The spam score is a sum of log-odds::

    score = sigmoid(model_scale * model_log_odds + bias + sum(reason.weight for reason in reasons)
                    + logit(base_rate) - logit(training base rate))

``model_scale``, ``bias`` and the reason weights are stored in the model's metadata
(``combination``). They were fitted on out-of-fold model log-odds of the training videos, each
weight pulled towards the prior in ``signals.PRIOR_WEIGHTS`` and kept non-negative, so reasons the
training data never shows (phone numbers, unlisted domains, new authors) keep their prior weight.
Reasons found elsewhere (repetition, bursts) join the sum through ``extra_reasons``.

The training videos are half spam; a news site's comments are not. ``base_rate`` is the share of
spam the score assumes (Saerens et al.'s prior shift: it moves every score's log-odds by the same
amount, so rankings and AUC do not change, only what a threshold such as 0.5 means).

Word-list matches do not change the score: they are returned apart, for the policy to reject on a
banned match and queue on a suspect one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from service.normalize import normalize
from service.policy import Reason
from service.wordlists import WordLists, WordMatch
from worker.scorers.linear import MODELS_DIR, LinearToxicityScorer
from worker.scorers.spam.signals import SIGNALS_VERSION, detect

DEFAULT_MODEL = MODELS_DIR / "spam-linear-2.npz"
DEFAULT_BASE_RATE = 0.1
MODEL_MAX_CHARS = 5_000  # the content model reads this much of the plain form; the signals read it all


@dataclass(frozen=True)
class SpamAssessment:
    score: float  # spam probability in [0, 1], model and reasons together
    content: float  # the content model's probability alone, at the training base rate
    reasons: list[Reason]
    banned: list[WordMatch]
    suspect: list[WordMatch]


def _sigmoid(z: float) -> float:
    return float(0.5 * (1.0 + np.tanh(0.5 * z)))  # no overflow for large |z|


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


class SpamScorer:
    name = "spam"
    labels = ("spam",)

    def __init__(self, model: LinearToxicityScorer, *, base_rate: float = DEFAULT_BASE_RATE) -> None:
        if not 0.0 < base_rate < 1.0:
            raise ValueError(f"base_rate must be between 0 and 1, got {base_rate}")
        self.model = model
        self.combination: dict[str, Any] = model.metadata["combination"]
        self.base_rate = base_rate
        self._shift = _logit(base_rate) - _logit(self.combination["base_rate"])
        self.version = f"{model.version}+{SIGNALS_VERSION}"

    @classmethod
    def load(cls, path: Path | None = None, *, base_rate: float = DEFAULT_BASE_RATE) -> SpamScorer:
        """Load a spam model artifact (default: the shipped one)."""
        return cls(
            LinearToxicityScorer.load(path if path is not None else DEFAULT_MODEL), base_rate=base_rate
        )

    def assess_batch(
        self,
        texts: Sequence[str],
        *,
        wordlists: WordLists | None = None,
        author_comment_counts: Sequence[int | None] | None = None,
        extra_reasons: Sequence[Sequence[Reason]] | None = None,
    ) -> list[SpamAssessment]:
        """``assess`` for several comments at once (one model call); per-comment arguments align."""
        if not texts:
            return []
        comments = [normalize(text) for text in texts]
        log_odds = self.model.decision_function([c.plain.text[:MODEL_MAX_CHARS] for c in comments])
        counts = author_comment_counts if author_comment_counts is not None else [None] * len(texts)
        extras = extra_reasons if extra_reasons is not None else [()] * len(texts)
        allowed = wordlists.allowed_domains if wordlists is not None else None
        c = self.combination
        out = []
        for comment, z, count, extra in zip(comments, log_odds, counts, extras, strict=True):
            reasons = detect(
                comment, allowed_domains=allowed, author_comment_count=count, weights=c["weights"]
            )
            reasons = [*reasons, *extra]
            total = c["model_scale"] * z + c["bias"] + sum(r.weight for r in reasons) + self._shift
            out.append(
                SpamAssessment(
                    score=_sigmoid(total),
                    content=_sigmoid(z),
                    reasons=reasons,
                    banned=wordlists.banned.find(comment) if wordlists is not None else [],
                    suspect=wordlists.suspect.find(comment) if wordlists is not None else [],
                )
            )
        return out

    def assess(
        self,
        text: str,
        *,
        wordlists: WordLists | None = None,
        author_comment_count: int | None = None,
        extra_reasons: Sequence[Reason] = (),
    ) -> SpamAssessment:
        """Score one comment with every signal; reasons and word-list matches carry original spans."""
        return self.assess_batch(
            [text],
            wordlists=wordlists,
            author_comment_counts=[author_comment_count],
            extra_reasons=[extra_reasons],
        )[0]

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{"spam": a.score} for a in self.assess_batch(texts)]
