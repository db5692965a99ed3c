"""Spam scoring benchmark: milliseconds per comment for ``SpamScorer.assess`` with every signal and a
1,000-entry word list, against the bare content model alone, in one run and one process.

Real comments are the YouTube Spam Collection (``$STET_DATA_DIR`` or ``../shared/data``); the
adversarial inputs are 1 MB of zero-width characters, 10,000 links, invalid Unicode (lone
surrogates), one 10,000-character word and a 10,000-character comment full of word-list hits. Also
times the word lists alone: 1,000 entries on 300-character comments and 5,000 entries on a
10,000-character comment.

    python benchmarks/spam.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from collections.abc import Callable

from service.normalize import normalize
from service.wordlists import WordLists, WordMatcher
from worker.scorers.spam import SpamScorer
from worker.training.spam_data import default_data_dir, load_videos

SPAM_WORDS = ["viagr*", "*casino*", "free money", "cheap pills", "bitcoin giveaway", "crypto*", "subscribe"]


def word_list(n: int, rng: random.Random) -> list[str]:
    """``n`` entries: made-up words, some with wildcards or as phrases, plus a few real spam words."""
    entries = list(SPAM_WORDS)
    while len(entries) < n:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9)))
        kind = rng.random()
        entries.append(word[:4] + "*" if kind < 0.1 else f"*{word}*" if kind < 0.15 else word)
        if kind > 0.9:
            entries[-1] += " " + word[::-1]
    return entries


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def summary(ms: list[float]) -> str:
    return f"median {statistics.median(ms):6.3f} ms   p95 {sorted(ms)[int(0.95 * (len(ms) - 1))]:6.3f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per comment; the fastest counts")
    args = parser.parse_args()
    if not default_data_dir().is_dir():
        print(f"skipped: no YouTube Spam Collection at {default_data_dir()} (set STET_DATA_DIR)")
        return 0
    rng = random.Random(0)
    scorer = SpamScorer.load()
    lists = WordLists(word_list(1000, rng), word_list(100, rng), ["example.com", "*.news.example"])
    texts = load_videos()["texts"]
    print(f"{len(texts)} YouTube comments, mean {statistics.mean(map(len, texts)):.0f} characters")
    scorer.assess(texts[0], wordlists=lists)  # warm caches

    model = [timed(lambda t=t: scorer.model.predict_proba([t]), args.repeat) for t in texts]
    full = [
        timed(lambda t=t: scorer.assess(t, wordlists=lists, author_comment_count=0), args.repeat)
        for t in texts
    ]
    print(f"content model alone     {summary(model)}")
    print(f"assess, all signals     {summary(full)}   (word lists: 1,000 banned + 100 suspect)")

    typical = [t for t in texts if 200 <= len(t) <= 400]
    matcher = WordMatcher(word_list(1000, rng))
    comments = [normalize(t) for t in typical]
    ms = [timed(lambda c=c: matcher.find(c), args.repeat) for c in comments]
    print(f"1,000-entry list alone  {summary(ms)}   ({len(typical)} comments of 200-400 characters)")
    start = time.perf_counter()
    big = WordMatcher(word_list(5000, rng) + ["the", "and", "you", "this"])
    compile_ms = (time.perf_counter() - start) * 1000
    long_comment = normalize(" ".join(texts)[:10_000])
    hits = len(big.find(long_comment))
    ms_big = timed(lambda: big.find(long_comment), args.repeat)
    print(
        f"5,000-entry list, 10,000-character comment: {ms_big:.2f} ms"
        f" ({hits} matches; compiled in {compile_ms:.0f} ms)"
    )

    adversarial = {
        "1 MB of zero-width characters": "\u200b" * 1_000_000,
        "10,000 links": " ".join(f"http://bit.ly/{i}" for i in range(10_000)),
        "invalid Unicode (lone surrogates)": "free \ud800money\udfff " * 1_000,
        "one 10,000-character word": "ab" * 5_000,
        "10,000 characters of hits": ("viagra casino free money " * 400)[:10_000],
    }
    print("adversarial inputs       content model alone   assess, all signals")
    for name, text in adversarial.items():
        try:
            alone = f"{timed(lambda t=text: scorer.model.predict_proba([t]), args.repeat):8.2f} ms"
        except (UnicodeError, ValueError) as error:
            alone = f"fails: {type(error).__name__}"
        full_ms = timed(lambda t=text: scorer.assess(t, wordlists=lists, author_comment_count=0), args.repeat)
        print(f"  {name:35s} {alone:>20s} {full_ms:12.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
