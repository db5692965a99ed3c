"""The spam trainer's data: the UCI YouTube Spam Collection in the shared data folder
(``youtube_spam/Youtube0N-*.csv``: comments on five videos, text ``CONTENT``, class ``label``),
normalised as in production, with the spam signals each comment fires; and the extra ham of
news-site comments (``EXTRA_HAM_FILE``, see ``worker/training/spam.py``)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from service.normalize import normalize
from service.reasons import ReasonCode
from worker.scorers.spam import MODEL_MAX_CHARS
from worker.scorers.spam.signals import PRIOR_WEIGHTS, detect
from worker.training.data import data_root

EXTRA_HAM_FILE = "toxic_spans/tsd_train.csv"  # extra ham for the content model (see the docstring)
EXTRA_HAM_SHARE = 0.1  # the extra ham's total weight, relative to the YouTube ham of each fit
CODES = list(PRIOR_WEIGHTS)


def default_data_dir() -> Path:
    return data_root() / "youtube_spam"


def load_videos(data_dir: Path | None = None) -> dict[str, Any]:
    """Texts, model inputs, labels, video per comment and reason hits (comments x ``CODES``)."""
    files = sorted(Path(data_dir or default_data_dir()).glob("Youtube0*.csv"))
    if not files:
        raise FileNotFoundError(f"no Youtube0*.csv in {data_dir or default_data_dir()}")
    texts, labels, groups, sha = [], [], [], hashlib.sha256()
    for i, path in enumerate(files):
        sha.update(path.read_bytes())
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                texts.append(row["CONTENT"])
                labels.append(int(row["label"]))
                groups.append(i)
    comments = [normalize(t) for t in texts]
    hits = np.zeros((len(texts), len(CODES)))
    for i, comment in enumerate(comments):
        for reason in detect(comment):
            hits[i, CODES.index(reason.code)] = 1.0
    return {
        "videos": [p.stem for p in files],
        "texts": texts,
        "plain": [c.plain.text[:MODEL_MAX_CHARS] for c in comments],
        "y": np.array(labels),
        "groups": np.array(groups),
        "hits": hits,
        "sha256": sha.hexdigest(),
    }


def load_extra_ham() -> dict[str, Any]:
    """The extra ham's model inputs (``EXTRA_HAM_FILE`` without the comments that link anywhere)."""
    path = data_root() / EXTRA_HAM_FILE
    with open(path, encoding="utf-8", newline="") as f:
        comments = [normalize(row["text"]) for row in csv.DictReader(f)]
    kept = [c for c in comments if not any(r.code == ReasonCode.LINKS for r in detect(c))]
    return {
        "file": EXTRA_HAM_FILE,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "plain": [c.plain.text[:MODEL_MAX_CHARS] for c in kept],
        "with_links_left_out": len(comments) - len(kept),
    }


def load_training_data(data_dir: Path | None = None, share: float = EXTRA_HAM_SHARE) -> dict[str, Any]:
    """``load_videos`` plus, when ``share`` > 0, the extra ham (``load_extra_ham``) under ``extra``."""
    data = load_videos(data_dir)
    return {**data, "extra": load_extra_ham()} if share > 0 else data
