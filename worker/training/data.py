"""The labelled sets the linear toxicity model is trained and measured on, and their held-out splits.

Data (the shared data folder, ``$STET_DATA_DIR`` or ``../shared/data``):

* ``jigsaw_binary``: Jigsaw talk-page comments plus the Davidson tweets, one label ``is_offensive``,
  for ``toxicity``. Exact duplicate texts are merged (a text labelled both ways counts as
  offensive), so no text is on both sides of the split.
* ``jigsaw_subset``: 2,886 Jigsaw comments with the challenge's six labels, for the heads
  (``severe_toxicity``, ``obscene``, ``threat``, ``insult``, ``identity_attack``). Its comments
  are also in ``jigsaw_binary``: the subset is halved first (stratified), and its held-out half is
  forced into the toxicity test part, so neither factor of a head's score ever saw those rows.
* ``davidson``: tweets labelled hate speech / offensive / neither; hate speech is more
  ``identity_attack`` training data (20% held out). ``jigsaw_binary`` holds these tweets too,
  rewritten (retweet prefixes cut, entities decoded) so they cannot be matched reliably: the
  toxicity factor may have seen a held-out tweet, which is why the report also gives the
  hate-vs-offensive AUC, where both classes are offensive and only the head separates them.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from tqdm import tqdm

DATA_ENV = "STET_DATA_DIR"  # points at the shared ``data`` folder
DATASET = "jigsaw_binary/clean_data.csv.gz"
SUBSET = "jigsaw_subset/train.csv"
DAVIDSON = "davidson/labeled_data.csv"
SPANS_TRAIN = "toxic_spans/tsd_train.csv"
SPANS_TRIAL = "toxic_spans/tsd_trial.csv"  # held out
TEST_SIZE = 0.1
VALIDATION_SIZE = 0.1  # of the training part
SUBSET_TEST_SIZE = 0.5
DAVIDSON_TEST_SIZE = 0.2
SUBSET_LABELS = {
    "toxic": "toxicity",
    "severe_toxic": "severe_toxicity",
    "obscene": "obscene",
    "threat": "threat",
    "insult": "insult",
    "identity_hate": "identity_attack",
}


def data_root() -> Path:
    """The shared data folder: ``$STET_DATA_DIR`` if set, else ``../shared/data`` next to the repo."""
    data_dir = os.environ.get(DATA_ENV)
    return Path(data_dir) if data_dir else Path(__file__).resolve().parents[3] / "shared/data"


def default_data_path() -> Path:
    """The toxicity training CSV."""
    return data_root() / DATASET


def load_dataset(path: Path, progress: bool = True) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """Read ``is_offensive,text`` rows, merge exact duplicates and drop blank texts.

    Returns the texts (in first-seen order), their 0/1 labels and a description of the data.
    """
    csv.field_size_limit(sys.maxsize)  # some comments are longer than csv's default field limit
    labels: dict[str, int] = {}
    rows = 0
    sha = hashlib.sha256()
    with open(path, "rb") as raw:
        with tqdm.wrapattr(
            raw,
            "read",
            total=path.stat().st_size,
            desc="loading",
            disable=not progress,
            file=sys.stderr,
        ) as wrapped:
            with gzip.open(_Hashing(wrapped, sha), "rt", encoding="utf-8", newline="") as text:
                reader = csv.reader(text)
                if next(reader) != ["is_offensive", "text"]:
                    raise ValueError(f"{path}: expected the columns is_offensive,text")
                for label, comment in reader:
                    rows += 1
                    if comment.strip():
                        labels[comment] = max(labels.get(comment, 0), int(label))
    texts = list(labels)
    y = np.fromiter(labels.values(), dtype=np.int8, count=len(texts))
    info = {
        "data": "/".join(path.parts[-2:]),
        "data_sha256": sha.hexdigest(),
        "rows_read": rows,
        "rows_used": len(texts),
        "positives": int(y.sum()),
    }
    return texts, y, info


class _Hashing:
    """A read-only file wrapper that hashes the bytes read through it."""

    def __init__(self, file: Any, sha: Any) -> None:
        self._file = file
        self._sha = sha

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        self._sha.update(chunk)
        return chunk


def split_indices(y: np.ndarray, seed: int, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified (train, test) row indices."""
    return train_test_split(np.arange(len(y)), test_size=test_size, stratify=y, random_state=seed)


def load_subset(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """The Jigsaw subset's texts and its labels under Stet's names."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    texts = [row["comment_text"] for row in rows]
    return texts, {
        ours: np.array([int(row[theirs]) for row in rows]) for theirs, ours in SUBSET_LABELS.items()
    }


def load_davidson(path: Path) -> tuple[list[str], np.ndarray]:
    """Davidson et al.'s tweets and their class: 0 hate speech, 1 offensive, 2 neither."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [row["tweet"] for row in rows], np.array([int(row["class"]) for row in rows])


@dataclass
class Part:
    """One data set with its training and held-out rows."""

    texts: list[str]
    labels: dict[str, np.ndarray]
    train: np.ndarray
    test: np.ndarray

    def test_texts(self) -> list[str]:
        return [self.texts[i] for i in self.test]


@dataclass
class Splits:
    binary: Part  # jigsaw_binary: toxicity
    subset: Part  # jigsaw_subset: toxicity and the heads' labels
    davidson: Part  # identity_attack (hate speech) and offensive
    info: dict[str, Any]
    root: Path  # the shared data folder they came from


def load_splits(root: Path | None = None, *, seed: int = 0, progress: bool = True) -> Splits:
    """Load the three labelled sets and split them so no test row is trained on (module docstring)."""
    root = Path(root) if root is not None else data_root()
    texts, y, info = load_dataset(root / DATASET, progress)
    subset_texts, subset_labels = load_subset(root / SUBSET)
    subset_train, subset_test = train_test_split(
        np.arange(len(subset_texts)),
        test_size=SUBSET_TEST_SIZE,
        stratify=subset_labels["toxicity"],
        random_state=seed,
    )
    held_out = {subset_texts[i] for i in subset_test}
    trained = {subset_texts[i] for i in subset_train} - held_out
    forced_test = np.array([i for i, t in enumerate(texts) if t in held_out], dtype=np.int64)
    forced_train = np.array([i for i, t in enumerate(texts) if t in trained], dtype=np.int64)
    others = np.setdiff1d(np.arange(len(texts)), np.concatenate([forced_test, forced_train]))
    other_train, other_test = split_indices(y[others], seed, TEST_SIZE)
    binary = Part(
        texts,
        {"toxicity": y},
        np.sort(np.concatenate([others[other_train], forced_train])),
        np.sort(np.concatenate([others[other_test], forced_test])),
    )
    tweets, tweet_class = load_davidson(root / DAVIDSON)
    davidson_train, davidson_test = train_test_split(
        np.arange(len(tweets)), test_size=DAVIDSON_TEST_SIZE, stratify=tweet_class, random_state=seed
    )
    davidson = Part(
        tweets,
        {"identity_attack": (tweet_class == 0).astype(int), "offensive": (tweet_class < 2).astype(int)},
        davidson_train,
        davidson_test,
    )
    split = {
        "seed": seed,
        "test_size": TEST_SIZE,
        "validation_size": VALIDATION_SIZE,
        "subset_test_size": SUBSET_TEST_SIZE,
        "davidson_test_size": DAVIDSON_TEST_SIZE,
        "stratified": True,
        "deduplicated": True,
    }
    return Splits(
        binary,
        Part(subset_texts, subset_labels, subset_train, subset_test),
        davidson,
        {**info, "split": split},
        root,
    )
