"""Scorers turn comment texts into per-label scores between 0 and 1.

Every scorer has the same small interface so the worker, the CLI and the
benchmarks treat them alike; ``load_scorer`` picks one by the name in
``STET_SCORERS``. Scores are stored per scorer *and* model version so a
comment can be re-scored when a model changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from service.config import Settings

# Every scorer ``load_scorer`` knows, in the order ``stet model eval`` and the benchmark report them.
SCORER_NAMES = ("ensemble", "blend", "linear", "detoxify", "cascade", "null")
TEST_ONLY = frozenset({"null"})  # scores nothing: never evaluated or benchmarked
ENGLISH = frozenset({"en"})


# A transformer run may read this many times the tokens of its texts (``padded_runs``).
PADDING = 1.25


def padded_runs(lengths: Sequence[int], most: int) -> list[list[int]]:
    """The indices of texts of these token ``lengths``, shortest first, cut into transformer runs of
    at most ``most`` texts whose padding to the run's longest adds at most a quarter to the tokens
    read.

    A run's cost grows with its texts × its longest text, so a worker's batch of news comments (a
    median of 34 tokens, a tenth over 96) padded as one read ~3× the tokens it holds: the shipped
    MiniLM scored 31 comments/s in batches of 32 against 93/s one at a time (one thread), and ~97/s
    in these runs."""
    runs: list[list[int]] = []
    tokens = 0
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        length = lengths[i]
        if runs and len(runs[-1]) < most and (len(runs[-1]) + 1) * length <= PADDING * (tokens + length):
            runs[-1].append(i)
            tokens += length
        else:
            runs.append([i])
            tokens = length
    return runs


class ScorerUnavailable(RuntimeError):
    """A known scorer that cannot load on this installation (a missing checkpoint or extra)."""


class Scorer(Protocol):
    """What the worker needs from a scorer."""

    name: str  # short, stable id stored with every score ("linear", "null")
    version: str  # model version stored with every score
    labels: tuple[str, ...]  # labels it provides, detoxify's names where they exist
    # Languages (ISO 639-1) its scores were validated on held-out data for: only comments in these
    # are decided on its scores alone (service.policy). ``reads``: those it scores at all.
    languages: frozenset[str]
    reads: frozenset[str]

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Return one ``{label: score}`` dict per text, scores in [0, 1]."""
        ...


@runtime_checkable
class Explainer(Protocol):
    """A scorer that can also say which characters drove each text's toxicity score (optional)."""

    def explain(self, texts: Sequence[str]) -> list[list[tuple[int, int, float]]]:
        """One list per text of ``(start, end, weight)`` character spans, ``end`` exclusive."""
        ...


def validated_languages(name: str) -> frozenset[str]:
    """The languages scorer ``name`` is validated for, read from its model card without loading it."""
    if name in ("ensemble", "blend"):
        from worker.scorers.ensemble import validated_languages as from_card

        return from_card()
    return ENGLISH


def load_scorer(name: str) -> Scorer:
    """Build the scorer called ``name``; heavy models load here, once per process. It scores one
    text before it is returned: the ensemble's first call took 0.76 s more than the next ones (its
    encoder's first run), and that is no reader's comment's to wait for (a Coral or Perspective call
    has half a second)."""
    scorer = _build(name)
    scorer.score_batch(["A first comment, so that no reader's comment waits while the models warm up."])
    return scorer


def _build(name: str) -> Scorer:
    if name == "ensemble":
        from worker.scorers.ensemble import EnsembleScorer

        return EnsembleScorer.load()
    if name == "linear":
        from worker.scorers.linear import LinearToxicityScorer

        return LinearToxicityScorer.load()
    if name == "null":
        from worker.scorers.null import NullScorer

        return NullScorer()
    if name in ("detoxify", "cascade", "blend"):
        from service.config import Settings

        settings = Settings.from_env()
        if name == "blend":
            from worker.scorers.blend import BlendScorer
            from worker.scorers.ensemble import EnsembleScorer
            from worker.scorers.onnx_scorer import OnnxScorer

            # Stet's own compact MiniLM, unless a transformer is named (STET_DETOXIFY_CHECKPOINT).
            named = settings.detoxify_checkpoint != Settings.detoxify_checkpoint
            return BlendScorer(
                EnsembleScorer.load(), _transformer(name, settings) if named else OnnxScorer.shipped()
            )
        transformer = _transformer(name, settings)
        if name == "cascade":
            from worker.scorers.cascade import CascadeScorer

            return CascadeScorer.from_settings(settings, transformer)
        return transformer
    raise ValueError(f"unknown scorer {name!r} (known: {', '.join(SCORER_NAMES)})")


def _transformer(name: str, settings: Settings) -> Scorer:
    """The ``STET_DETOXIFY_CHECKPOINT`` transformer, run by torch or by ONNX Runtime
    (``STET_DETOXIFY_RUNTIME``; ONNX Runtime is in every install, torch only in the extra)."""
    if settings.detoxify_runtime != "torch":
        from worker.scorers.onnx_scorer import OnnxScorer

        return OnnxScorer.from_settings(settings)
    try:
        from worker.scorers.detoxify_scorer import DetoxifyScorer
    except ImportError as exc:
        raise RuntimeError(f"the {name} scorer needs: pip install 'stet[transformer]' ({exc})") from exc
    return DetoxifyScorer.from_settings(settings)
