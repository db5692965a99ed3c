"""Language detection and the cost of other languages, on held-out comments.

accuracy  ``service.language.detect`` on the held-out (test) parts of the shared sets, per
          language: English (Jigsaw, Gab, ...), German (GermEval 2018), French and Arabic
          (MLMA), on a site that publishes in English and on one that publishes in the
          comment's own language; all comments and those of 5+ words. A comment too short to tell
          counts as the site's language, as the policy reads it.
speed     per comment, one at a time as the worker's first comment of a batch: detection alone,
          and detection + the default scorer, median and p95 for English and for German and
          French comments of the same lengths (the ratio is what "adds" means).

  python -m benchmarks.language [--per-language 2000]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from service.language import detect
from worker.scorers.ensemble import EnsembleScorer
from worker.training import attribute_data as ad
from worker.training import data_root

WORDS = re.compile(r"\w+")


def held_out(root: Path, per_language: int) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = defaultdict(list)
    for row in ad.load(root, jigsaw_negative_share=0.0).rows:
        if row.part == ad.TEST and len(texts[row.language]) < per_language:
            texts[row.language].append(row.text)
    return texts


def accuracy(texts: dict[str, list[str]]) -> None:
    print("| language | comments | site in English: all | 5+ words | site in its language: all | 5+ words |")
    print("|---|---|---|---|---|---|")
    for code, rows in sorted(texts.items()):
        cells = []
        for site in ("en", code):
            found = [(detect(t, site) or site) == code for t in rows]
            long = [ok for ok, t in zip(found, rows, strict=True) if len(WORDS.findall(t)) >= 5]
            cells += [f"{100 * sum(found) / len(found):.1f}%", f"{100 * sum(long) / max(len(long), 1):.1f}%"]
        print(f"| {code} | {len(rows):,} | " + " | ".join(cells) + " |")


def _timed(fn, texts: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for text in texts:
        start = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


def speed(texts: dict[str, list[str]], n: int) -> None:
    scorer = EnsembleScorer.load(threads=1)
    scorer.score_batch(["warm up"])
    other = [t for code in ("de", "fr") for t in texts.get(code, [])[: n // 2]]
    # English comments of the same lengths as the German and French ones (the cost grows with length)
    english = sorted(texts["en"], key=len)
    lengths = sorted(len(t) for t in other)
    matched = [min(english, key=lambda t, n=n: abs(len(t) - n)) for n in lengths]
    print("\n| per comment | English: median | p95 | German and French: median | p95 |")
    print("|---|---|---|---|---|")
    for name, fn in (
        ("detection", lambda t: detect(t)),
        ("detection + default scorer", lambda t: (detect(t), scorer.score_batch([t]))),
    ):
        cells = []
        for group in (matched, other):
            times = _timed(fn, tqdm(group, desc=name, file=sys.stderr, leave=False))
            cells += [f"{statistics.median(times):.1f} ms", f"{statistics.quantiles(times, n=20)[18]:.1f} ms"]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-language", type=int, default=2000)
    parser.add_argument("--speed-comments", type=int, default=400)
    args = parser.parse_args()
    texts = held_out(data_root(), args.per_language)
    accuracy(texts)
    speed(texts, args.speed_comments)


if __name__ == "__main__":
    main()
