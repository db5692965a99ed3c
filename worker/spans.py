"""Toxic spans: the characters of a comment that drove the linear model's toxicity score.

The linear model's log-odds are a sum over hashed n-grams (``scorers/linear.py``), so each n-gram
occurrence has an exact contribution: its TF-IDF value (split evenly between repeats) times its
coefficient. ``contributions`` spreads each one evenly over the characters the n-gram covers (a
word bigram over both words, a character n-gram over its characters, never the padding) and sums
them per word. ``SpanRule`` turns those word weights into spans: words weighing at least
``min_weight`` (and ``relative`` of the strongest word), in comments scoring at least
``min_score``, joined when only white space separates them. The rule's numbers are tuned on the
Toxic Spans training posts (``tune``) and stored in the model's metadata; the trial posts are held
out to measure it with the SemEval-2021 Task 5 metric (``span_f1``).
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from worker.scorers.hashing import columns, sigmoid

if TYPE_CHECKING:
    from worker.scorers.linear import LinearToxicityScorer

# A word for span purposes: letters and digits, with inner apostrophes, hyphens or masking
# asterisks ("don't", "f**k"); the punctuation around it is never part of a span.
WORD = re.compile(r"\w+(?:[*'’-]+\w+)*")
_WHITE_SPACES = re.compile(r"\s\s+")

Span = tuple[int, int, float]  # start, end (exclusive) and weight (log-odds contribution)


@dataclass(frozen=True)
class SpanRule:
    """Which words of a comment are its toxic spans."""

    min_weight: float = 0.3  # a word's contribution to the log-odds, at least
    relative: float = 0.0  # and at least this share of the comment's heaviest word
    min_score: float = 0.5  # no spans in comments the model scores below this probability
    merge: bool = True  # join selected words that only white space separates

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> SpanRule:
        rule = metadata.get("spans", {}).get("rule", {})
        return cls(**{key: rule[key] for key in asdict(cls()) if key in rule})

    def apply(self, text: str, z: float, words: Sequence[Span]) -> list[Span]:
        """Spans of ``text`` given its log-odds ``z`` and per-word weights."""
        if not words or sigmoid(z) < self.min_score:
            return []
        heaviest = max(weight for _, _, weight in words)
        bar = max(self.min_weight, self.relative * heaviest)
        spans: list[Span] = []
        for start, end, weight in words:
            if weight < bar:
                continue
            if self.merge and spans and text[spans[-1][1] : start].isspace():
                last = spans.pop()
                spans.append((last[0], end, last[2] + weight))
            else:
                spans.append((start, end, weight))
        return spans


def _word_grams(text: str, hashing: dict[str, Any]) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Word n-grams of lower-cased ``text`` as ``HashingVectorizer(analyzer="word")`` makes them.

    Returns the n-gram strings and (gram index, start, end) segments, one per word of each gram.
    """
    pattern = re.compile(hashing.get("token_pattern", r"(?u)\b\w\w+\b"))
    tokens = [(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]
    low, high = hashing["ngram_range"]
    grams: list[str] = []
    segments: list[tuple[int, int, int]] = []
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            gram = tokens[i : i + n]
            segments.extend((len(grams), start, end) for _, start, end in gram)
            grams.append(" ".join(token for token, _, _ in gram))
    return grams, segments


def _char_wb_grams(text: str, hashing: dict[str, Any]) -> tuple[list[str], list[tuple[int, int, int]]]:
    """Character n-grams inside the white-space-separated words of lower-cased ``text``.

    Made exactly as ``analyzer="char_wb"`` makes them (scikit-learn's ``_char_wb_ngrams``, where a
    padded word shorter than ``n`` is counted once, for the smallest such ``n``); each gram's
    segment leaves out the padding.
    """
    low, high = hashing["ngram_range"]
    grams: list[str] = []
    segments: list[tuple[int, int, int]] = []
    for match in re.finditer(r"\S+", text):
        chunk = match.group()
        padded = f" {chunk} "
        last = match.end()
        for n in range(low, high + 1):
            offset = 0
            while True:
                start = min(match.start() + max(offset - 1, 0), last)
                end = min(match.start() + min(offset + n - 1, len(chunk)), last)
                segments.append((len(grams), start, end))
                grams.append(padded[offset : offset + n])
                if offset + n >= len(padded):
                    break
                offset += 1
            if offset == 0:
                break
    return grams, segments


_GRAMS = {"word": _word_grams, "char_wb": _char_wb_grams}


def contributions(scorer: LinearToxicityScorer, text: str) -> tuple[float, np.ndarray]:
    """The log-odds of ``text`` and each character's share of it (intercept excluded)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    lowered = text.lower()  # what the vectorizers read; a few characters lower-case to two ("İ")
    origin = None
    if len(lowered) != len(text):
        origin = np.repeat(np.arange(len(text)), [len(c.lower()) for c in text])
        if origin.size != len(lowered):  # context-dependent lower-casing: attribute by position
            origin = np.minimum(np.arange(len(lowered)) * len(text) // max(len(lowered), 1), len(text) - 1)
    delta = np.zeros(len(lowered) + 1)
    z = scorer.intercept
    for block, idf, coef in zip(scorer.blocks, scorer.idf, scorer.coef, strict=True):
        hashing = block["hashing"]
        if hashing["analyzer"] not in _GRAMS:
            raise ValueError(f"spans cannot explain the {hashing['analyzer']!r} analyzer")
        grams, segments = _GRAMS[hashing["analyzer"]](lowered, hashing)
        if not grams:
            continue
        features = columns(grams, hashing["n_features"])
        unique, inverse, counts = np.unique(features, return_inverse=True, return_counts=True)
        values = (1.0 + np.log(counts)) * idf[unique]
        norm = float(np.sqrt(np.sum(values**2))) or 1.0
        per_gram = (values * coef[unique] / (norm * counts))[inverse]
        z += float(per_gram.sum())
        seg = np.array(segments, dtype=np.int64)
        lengths = np.bincount(seg[:, 0], weights=seg[:, 2] - seg[:, 1], minlength=len(grams))
        covered = lengths[seg[:, 0]] > 0
        density = per_gram[seg[covered, 0]] / lengths[seg[covered, 0]]
        np.add.at(delta, seg[covered, 1], density)
        np.add.at(delta, seg[covered, 2], -density)
    per_char = np.cumsum(delta)[:-1]
    if origin is not None:
        per_char = np.bincount(origin, weights=per_char, minlength=len(text))
    return z, per_char


def word_weights(text: str, per_char: np.ndarray) -> list[Span]:
    """Each word of ``text`` with the sum of its characters' contributions."""
    return [(m.start(), m.end(), float(per_char[m.start() : m.end()].sum())) for m in WORD.finditer(text)]


def explain(scorer: LinearToxicityScorer, texts: Iterable[str], rule: SpanRule) -> list[list[Span]]:
    """The toxic spans of each text under ``rule``."""
    out = []
    for text in texts:
        z, per_char = contributions(scorer, text)
        out.append(rule.apply(text, z, word_weights(text, per_char)))
    return out


# --- measuring and tuning on the Toxic Spans data ------------------------------------------------


def load_toxic_spans(path: Path) -> tuple[list[str], list[set[int]]]:
    """Texts and their gold toxic character offsets from a SemEval-2021 Task 5 CSV (``spans,text``)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [row["text"] for row in rows], [set(ast.literal_eval(row["spans"])) for row in rows]


def post_f1(predicted: set[int], gold: set[int]) -> float:
    """SemEval-2021 Task 5 F1 of one post: both empty is 1, one empty is 0."""
    if not gold or not predicted:
        return float(not gold and not predicted)
    overlap = len(predicted & gold)
    return 2.0 * overlap / (len(predicted) + len(gold))


def offsets(spans: Iterable[Span]) -> set[int]:
    return {i for start, end, _ in spans for i in range(start, end)}


def span_f1(predicted: Sequence[Iterable[Span]], gold: Sequence[set[int]]) -> float:
    """Mean per-post character-offset F1 (the task's official metric)."""
    return float(np.mean([post_f1(offsets(p), g) for p, g in zip(predicted, gold, strict=True)]))


GRID_MIN_WEIGHT = (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8)
GRID_RELATIVE = (0.0, 0.2, 0.4, 0.6)
GRID_MIN_SCORE = (0.0, 0.1, 0.3, 0.5, 0.7)


def tune(scorer: LinearToxicityScorer, texts: Sequence[str], gold: Sequence[set[int]]) -> dict[str, Any]:
    """Choose the ``SpanRule`` with the best mean F1 on ``texts`` (training posts only)."""
    analysed = []
    for text in texts:
        z, per_char = contributions(scorer, text)
        analysed.append((text, z, word_weights(text, per_char)))
    gold_empty = np.array([not g for g in gold])
    z_all = np.array([z for _, z, _ in analysed])
    best: dict[str, Any] = {"f1": -1.0}
    for min_weight in GRID_MIN_WEIGHT:
        for relative in GRID_RELATIVE:
            for merge in (True, False):
                rule = SpanRule(min_weight, relative, 0.0, merge)
                f1 = np.array(
                    [
                        post_f1(offsets(rule.apply(t, z, w)), g)
                        for (t, z, w), g in zip(analysed, gold, strict=True)
                    ]
                )
                for min_score in GRID_MIN_SCORE:
                    below = sigmoid(z_all) < min_score
                    score = float(np.mean(np.where(below, gold_empty, f1)))
                    if score > best["f1"]:
                        best = {"f1": score, "rule": asdict(SpanRule(min_weight, relative, min_score, merge))}
    return best
