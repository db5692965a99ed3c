"""Scoring throughput: comments per second for each available scorer on this machine, batched as the
worker and ``stet score`` run them, and the naive detoxify loop as the baseline in the same run.

Comments are a fixed random sample of the toxicity test part (``training.load_splits``;
``$STET_DATA_DIR`` or ``../shared/data``). The baseline is ``Detoxify(...).predict(text)`` one
comment at a time on the same checkpoint as the ``detoxify`` scorer (``STET_DETOXIFY_CHECKPOINT``),
timed on ``--naive`` comments (it is slow); it is skipped, with the reason, when that scorer cannot
load here. One process, the torch/BLAS threads it picks; ``nproc`` is printed with the table.

    python -m benchmarks.scoring [--comments 4000] [--naive 300] [--scorer linear ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from worker import training
from worker.scorers import SCORER_NAMES, TEST_ONLY, Explainer, Scorer, load_scorer

BATCH = 256


def rate(run: Callable[[Sequence[str]], object], texts: Sequence[str], batch: int) -> float:
    """Comments per second of ``run`` over ``texts`` in batches of ``batch`` (after one warm-up batch)."""
    run(texts[:batch])
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        run(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - start)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=4000, help="comments per batched scorer")
    parser.add_argument("--naive", type=int, default=300, help="comments for the one-at-a-time baseline")
    parser.add_argument("--scorer", action="append", help="only this scorer (repeatable)")
    args = parser.parse_args(argv)

    root = training.data_root()
    if not (root / training.DATASET).exists():
        print(f"shared data not found at {root} (set STET_DATA_DIR)", file=sys.stderr)
        return 1
    splits = training.load_splits(root, progress=False)
    rng = np.random.default_rng(0)
    test = splits.binary.test
    sample = [splits.binary.texts[i] for i in rng.choice(test, min(args.comments, len(test)), replace=False)]
    mean_chars = np.mean([len(t) for t in sample])

    rows: list[tuple[str, str, str, int, float]] = []
    notes: list[str] = []
    names = args.scorer or [n for n in SCORER_NAMES if n not in TEST_ONLY]
    for name in names:
        try:
            scorer: Scorer = load_scorer(name)
        except (RuntimeError, OSError, ImportError) as exc:  # ScorerUnavailable is a RuntimeError
            notes.append(f"{name}: skipped ({exc})")
            continue
        texts = sample if name == "linear" else sample[: max(args.naive * 4, BATCH)]
        rows.append((name, scorer.version, "score_batch", len(texts), rate(scorer.score_batch, texts, BATCH)))
        if name == "linear" and isinstance(scorer, Explainer):
            flagged = [
                t for t, s in zip(texts, scorer.score_batch(texts), strict=True) if s["toxicity"] >= 0.08
            ]
            rows.append(
                (
                    name,
                    scorer.version,
                    "explain (flagged only)",
                    len(flagged),
                    rate(scorer.explain, flagged, BATCH),
                )
            )
        detox = getattr(scorer, "detox", None)  # the detoxify scorer's Detoxify object
        if name == "detoxify" and detox is not None:
            naive = sample[: args.naive]
            rows.append(
                (
                    name,
                    scorer.version,
                    "naive Detoxify.predict(text)",
                    len(naive),
                    rate(lambda b, d=detox: [d.predict(t) for t in b], naive, 1),
                )
            )
    if "detoxify" not in [r[0] for r in rows]:
        notes.append("naive detoxify baseline: skipped (the detoxify scorer is not available here)")

    print(f"comments: {len(sample)} held-out Jigsaw/Davidson comments, mean {mean_chars:.0f} characters; "
          f"nproc {os.cpu_count()}")  # fmt: skip
    print("\n| scorer | version | mode | comments | comments/s | ms/comment |\n|---|---|---|---|---|---|")
    for name, version, mode, n, per_s in rows:
        print(f"| {name} | {version} | {mode} | {n:,} | {per_s:,.0f} | {1000 / per_s:.2f} |")
    for note in notes:
        print(f"\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
