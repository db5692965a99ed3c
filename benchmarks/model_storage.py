"""The shipped models' stored weights against the float weights they were made from: sizes and scores.

The models store their weights rounded to multiples of a small step (``worker/scorers/packing.py``).
This scores the same comments with the float models (their artifacts as of ``--reference``, a git
revision from before the compact format, ``FLOAT_REVISION`` by default: float32 weights, the
ensemble's n-gram heads float16) and with the shipped ones, in one run. It prints each file's size,
and per model and label the largest and 99th-percentile absolute change of the score and how many
comments move by more than 0.001; for the ``ensemble`` and ``linear`` scorers also how many
decisions change (the installation's policy; the linear model's old one, approve below 0.08 and
reject from 0.97, as ``stet model eval --task attributes`` reports it).

Comments: the held-out rows ``stet model eval --task attributes`` scores (every "train" set's test
part and the evaluation-only sets) for ``ensemble`` and ``linear``, the YouTube Spam Collection for
``spam``. Both ensembles read the same encoder vectors, computed once and cached under
``.stet/cache/use`` (about 6 minutes on 2 cores the first time).

    python -m benchmarks.model_storage [--reference REV] [--limit N]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from service import policy
from service.config import Settings
from worker.scorers.encoder import Encoder
from worker.scorers.ensemble import DEFAULT_MODEL as ENSEMBLE_MODEL
from worker.scorers.ensemble import EnsembleScorer, prepare
from worker.scorers.linear import DEFAULT_MODEL as LINEAR_MODEL
from worker.scorers.linear import LinearToxicityScorer
from worker.scorers.spam import DEFAULT_MODEL as SPAM_MODEL
from worker.scorers.spam import SpamScorer
from worker.training import attribute_data as ad
from worker.training import data_root
from worker.training.spam_data import load_videos

# A commit whose artifacts hold float weights: the same models, before the compact format.
FLOAT_REVISION = "0fb0e2e2939f8da0339c0e0b803b22c3c85948d5"
BATCH = 256
MOVED = 0.001
REPO = Path(__file__).resolve().parent.parent


def _at(revision: str, path: Path) -> bytes:
    """A file's bytes at a git revision."""
    relative = path.resolve().relative_to(REPO).as_posix()
    return subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:{relative}"], capture_output=True, check=True
    ).stdout


def float_linear(revision: str, path: Path) -> LinearToxicityScorer:
    """The linear model as its float artifact at ``revision`` stored it (float32 idf, coefficients
    and sparse heads)."""
    metadata = json.loads(_at(revision, path.with_suffix(".json")))
    names = [block["name"] for block in metadata["features"]["blocks"]]
    with np.load(io.BytesIO(_at(revision, path)), allow_pickle=False) as a:
        heads = {
            label: (a[f"head_{label}_index"], a[f"head_{label}_coef"], float(a[f"head_{label}_intercept"][0]))
            for label in metadata["labels"][1:]
        }
        return LinearToxicityScorer(
            metadata,
            [a[f"idf_{n}"] for n in names],
            [a[f"coef_{n}"] for n in names],
            float(a["intercept"][0]),
            heads,
        )


def float_ensemble(revision: str, linear: LinearToxicityScorer, encoder: Any) -> EnsembleScorer:
    """The ensemble as its artifact at ``revision`` stored it (float32 network, float16 n-gram heads)."""
    card = json.loads(_at(revision, ENSEMBLE_MODEL.with_suffix(".json")))
    with np.load(io.BytesIO(_at(revision, ENSEMBLE_MODEL)), allow_pickle=False) as a:
        arrays = {k: a[k] for k in a.files}
    sparse = np.zeros((sum(c.size for c in linear.coef), len(card["labels"])), dtype=np.float32)
    sparse[arrays["sparse_index"], arrays["sparse_label"]] = arrays["sparse_coef"]
    return EnsembleScorer(card, {**arrays, "sparse": sparse}, linear, encoder)


class CachedEncoder:
    """Stands in for ``Encoder``: the vectors of texts encoded once, so both ensembles read the same."""

    def __init__(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.row = {text: i for i, text in enumerate(texts)}
        self.vectors = vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors[[self.row[t] for t in texts]]


def scores(score_batch: Any, texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    rows = [s for i in range(0, len(texts), BATCH) for s in score_batch(texts[i : i + BATCH])]
    return np.array([[row[label] for label in labels] for row in rows])


def change_table(model: str, labels: Sequence[str], before: np.ndarray, after: np.ndarray) -> list[str]:
    moved = np.abs(after - before)
    return [
        f"| {model} | {label} | {len(d):,} | {d.max():.6f} | {np.percentile(d, 99):.6f} | "
        f"{(d > MOVED).sum():,} |"
        for label, d in zip(labels, moved.T, strict=True)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=FLOAT_REVISION, help="git revision with the float artifacts")
    parser.add_argument("--limit", type=int, help="score only the first N held-out rows")
    args = parser.parse_args(argv)

    root = data_root()
    rows = [r for r in ad.load(root, jigsaw_negative_share=0.0).rows if r.part == ad.TEST]
    rows += ad.load(root, use="eval").rows
    texts = [r.text for r in rows][: args.limit]
    prepared = list(dict.fromkeys(prepare(t) for t in texts))
    encoder = CachedEncoder(prepared, Encoder(threads=2).encode_cached(prepared, Path(".stet/cache/use")))

    print("| file | float | stored | stored / float |\n|---|---|---|---|")
    for path in (ENSEMBLE_MODEL, LINEAR_MODEL, SPAM_MODEL):
        old, new = len(_at(args.reference, path)), path.stat().st_size
        print(f"| {path.name} | {old / 1e6:.2f} MB | {new / 1e6:.2f} MB | {new / old:.0%} |")

    print(f"\n| model | label | comments | largest change | 99th percentile | moved > {MOVED} |")
    print("|---|---|---|---|---|---|")
    linear = {"float": float_linear(args.reference, LINEAR_MODEL), "stored": LinearToxicityScorer.load()}
    ensemble = {
        "float": float_ensemble(args.reference, linear["float"], encoder),
        "stored": EnsembleScorer.load(),
    }
    ensemble["stored"].encoder = encoder  # type: ignore[assignment]
    labels = ensemble["stored"].labels
    p = {k: scores(s.score_batch, texts, labels) for k, s in ensemble.items()}
    print("\n".join(change_table("ensemble", labels, p["float"], p["stored"])), flush=True)
    q = {k: scores(s.score_batch, texts, linear["stored"].labels) for k, s in linear.items()}
    print("\n".join(change_table("linear", linear["stored"].labels, q["float"], q["stored"])), flush=True)
    videos = load_videos()["texts"]
    spam = {"float": SpamScorer(float_linear(args.reference, SPAM_MODEL)), "stored": SpamScorer.load()}
    s = {k: scores(m.score_batch, videos, ["spam"]) for k, m in spam.items()}
    print("\n".join(change_table("spam", ["spam"], s["float"], s["stored"])))

    settings = Settings.from_env()
    thresholds = policy.Thresholds(
        settings.approve_below, settings.reject_above, attributes=settings.attribute_rules, rude=settings.rude
    )
    decided = {
        k: [policy.decide(dict(zip(labels, r, strict=True)), thresholds).status for r in v]
        for k, v in p.items()
    }
    old_policy = {k: np.digitize(v[:, 0], [0.08, 0.97]) for k, v in q.items()}
    print(
        f"\nDecisions that change on {len(texts):,} comments: ensemble, this installation's policy "
        f"{sum(a != b for a, b in zip(decided['float'], decided['stored'], strict=True))}; "
        "linear, approve below 0.08 and reject from 0.97: "
        f"{(old_policy['float'] != old_policy['stored']).sum()}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
