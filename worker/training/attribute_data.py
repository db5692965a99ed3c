"""Every labelled set in the shared data folder, mapped to Perspective's attributes, with held-out splits.

Each set labels some attributes and says nothing of the others: a row carries ``-1`` for an
attribute its set does not label, and a head for that attribute never sees it (one loss per
attribute, masked). The mapping is a modelling decision (the data README says so); it is:

=================  ==========================================================================
attribute          sources (positive = ...)
=================  ==========================================================================
toxicity           jigsaw_binary (any label), jigsaw_subset ``toxic``, davidson (hate or
                   offensive), gab (hd, cv or vo), convabuse (most annotators abusive),
                   germeval (OFFENSE), wiki_context (toxic), mlma (hostile tweets only)
severe_toxicity    jigsaw_subset ``severe_toxic``, convabuse (most annotators "strongly abusive")
obscene            jigsaw_subset ``obscene``, gab ``vo`` (vulgarity), germeval PROFANITY
threat             jigsaw_subset ``threat``, gab ``cv`` (call for violence), edos category 1
                   (threats, incitement), implicit_hate ``threatening``
insult             jigsaw_subset ``insult``, germeval INSULT (ABUSE rows unlabelled)
identity_attack    jigsaw_subset ``identity_hate``, davidson hate, gab ``hd``, edos sexist,
                   implicit_hate (explicit or implicit), stormfront hate, convabuse (racist,
                   sexist, homophobic, transphobic or ableist), germeval ABUSE, mlma hateful
sexual_explicit    convabuse sexual harassment
=================  ==========================================================================

Where a set's toxicity label means "any kind of abuse" (Jigsaw, where toxic is any of its six
labels; Davidson's "neither"; ConvAbuse; the contextual Wikipedia ratings; GermEval's OTHER), a
comment it calls not toxic is also no threat, insult, identity attack... (``NOT_TOXIC_MEANS_NONE``):
those civil comments, many of which name groups ("as a gay man, I..."), teach every head that a
mention is not an attack.

OLID, HASOC and ETHOS have no licence to train a shipped model: they are loaded with
``use="eval"`` and never reach training.

Splits. ``jigsaw_binary``, ``jigsaw_subset`` and ``davidson`` keep the linear model's own splits
(``worker.training.load_splits``), so the two models are compared on the same held-out rows. Every
other set is split by a hash of its normalised text: 15% test, 10% validation, the rest training;
the same text lands in the same part in every set. A training row whose text is in any test part
is dropped.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.policy import ATTRIBUTES

TEST, VALIDATION, TRAIN = "test", "validation", "train"
NOT_TOXIC_MEANS_NONE = frozenset(
    {"jigsaw", "jigsaw_subset", "davidson", "convabuse", "wiki_context", "germeval"}
    | {f"mlma_{language}" for language in ("en", "fr", "ar")}
)
TEST_SHARE, VALIDATION_SHARE = 15, 10  # percent of the hash-split sets


@dataclass
class Row:
    text: str
    source: str
    labels: dict[str, int]  # only the attributes its source labels
    part: str = TRAIN
    language: str = "en"


@dataclass
class Dataset:
    """Rows of one or more sets, with the label matrix (``-1`` where a set does not label)."""

    rows: list[Row] = field(default_factory=list)

    def matrix(self) -> np.ndarray:
        y = np.full((len(self.rows), len(ATTRIBUTES)), -1, dtype=np.int8)
        for i, row in enumerate(self.rows):
            for label, value in row.labels.items():
                y[i, ATTRIBUTES.index(label)] = value
        return y

    def where(self, *, part: str | None = None, source: str | None = None) -> np.ndarray:
        return np.array(
            [
                i
                for i, r in enumerate(self.rows)
                if (part is None or r.part == part) and (source is None or r.source == source)
            ],
            dtype=np.int64,
        )

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.rows]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def hash_part(text: str) -> str:
    bucket = int.from_bytes(hashlib.sha1(normalise(text).encode()).digest()[:4], "big") % 100
    if bucket < TEST_SHARE:
        return TEST
    return VALIDATION if bucket < TEST_SHARE + VALIDATION_SHARE else TRAIN


def _read(path: Path, delimiter: str = ",") -> Iterator[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f, delimiter=delimiter)


# --- the sets marked "train" ------------------------------------------------------------------


def gab(root: Path) -> Iterator[Row]:
    for name in ("ghc_train.tsv", "ghc_test.tsv"):
        for r in _read(root / "gab_hate_corpus" / name, "\t"):
            hd, cv, vo = int(r["hd"]), int(r["cv"]), int(r["vo"])
            labels = {"identity_attack": hd, "threat": cv, "obscene": vo, "toxicity": int(hd or cv or vo)}
            yield Row(r["text"], "gab", labels)


def edos(root: Path) -> Iterator[Row]:
    for r in _read(root / "edos_sexism" / "edos_labelled_aggregated.csv"):
        sexist = int(r["label_sexist"] == "sexist")
        threat = int(r["label_category"].startswith("1."))
        yield Row(r["text"], "edos", {"identity_attack": sexist, "threat": threat})


def implicit_hate(root: Path) -> Iterator[Row]:
    folder = root / "implicit_hate"
    threatening = {
        normalise(r["post"])
        for r in _read(folder / "implicit_hate_v1_stg2_posts.tsv", "\t")
        if "threatening" in (r["implicit_class"], r["extra_implicit_class"])
    }
    for r in _read(folder / "implicit_hate_v1_stg1_posts.tsv", "\t"):
        hate = int(r["class"] != "not_hate")
        threat = int(normalise(r["post"]) in threatening)
        yield Row(r["post"], "implicit_hate", {"identity_attack": hate, "threat": threat})


CONVABUSE_IDENTITY = ("racist", "sexist", "homophobic", "transphobic", "ableist")


def convabuse(root: Path) -> Iterator[Row]:
    """Users' turns; each label is the majority of the turn's annotators."""
    for name in ("ConvAbuseEMNLPtrain.csv", "ConvAbuseEMNLPvalid.csv", "ConvAbuseEMNLPtest.csv"):
        for r in _read(root / "convabuse" / name):
            said = [
                {k.partition("_")[2] for k, v in r.items() if k.startswith(f"Annotator{a}_") and v == "1"}
                for a in range(1, 9)
                if r.get(f"Annotator{a}_is_abuse.1", "") != ""
            ]
            if not said or not r["user"].strip():
                continue

            def majority(*flags: str, said: list[set[str]] = said) -> int:
                return int(sum(bool(s.intersection(flags)) for s in said) * 2 > len(said))

            yield Row(
                r["user"],
                "convabuse",
                {
                    "toxicity": majority("is_abuse.-1", "is_abuse.-2", "is_abuse.-3"),
                    "severe_toxicity": majority("is_abuse.-3"),
                    "identity_attack": majority(*CONVABUSE_IDENTITY),
                    "sexual_explicit": majority("sex_harassment"),
                },
            )


def stormfront(root: Path) -> Iterator[Row]:
    folder = root / "stormfront_hate"
    labels = {
        r["file_id"]: r["label"]
        for r in _read(folder / "annotations_metadata.csv")
        if r["label"] in ("hate", "noHate")
    }
    with tarfile.open(folder / "vicomtech_hate_speech_dataset.tar.gz") as tar:
        for member in tar:
            stem = Path(member.name).stem
            if member.isfile() and member.name.startswith("all_files/") and stem in labels:
                text = tar.extractfile(member).read().decode("utf-8", "replace")  # type: ignore[union-attr]
                yield Row(text, "stormfront", {"identity_attack": int(labels[stem] == "hate")})


MLMA_FILES = {"en": "en_dataset_with_stop_words.csv", "fr": "fr_dataset.csv", "ar": "ar_dataset.csv"}


def mlma(root: Path) -> Iterator[Row]:
    """Tweets picked by hate keywords: hostile ones are positives for toxicity (hateful ones for
    identity attacks too); those every annotator called ``normal`` are the only civil French and
    Arabic comments in the shared data, negatives for every attribute."""
    for language, name in MLMA_FILES.items():
        for r in _read(root / "mlma_hate" / name):
            kinds = set(r["sentiment"].split("_"))
            labels = {"toxicity": int(kinds != {"normal"})}
            if "hateful" in kinds:
                labels["identity_attack"] = 1
            yield Row(r["tweet"], f"mlma_{language}", labels, language=language)


def germeval(root: Path) -> Iterator[Row]:
    with open(root / "germeval2018_de" / "germeval2018.training.txt", encoding="utf-8") as f:
        for line in f:
            text, coarse, fine = line.rstrip("\n").split("\t")
            labels = {"toxicity": int(coarse == "OFFENSE"), "identity_attack": int(fine == "ABUSE")}
            if fine in ("OTHER", "INSULT"):
                labels["insult"] = int(fine == "INSULT")
            if fine in ("OTHER", "PROFANITY"):
                labels["obscene"] = int(fine == "PROFANITY")
            yield Row(text, "germeval", labels, language="de")


def wiki_context(root: Path) -> Iterator[Row]:
    folder = root / "wiki_context_toxicity"
    for name in ("gc.csv", "gn.csv"):
        for r in _read(folder / name):
            yield Row(r["text"], "wiki_context", {"toxicity": int(r["label"])})
    for r in _read(folder / "cat_small.csv"):
        yield Row(r["text"], "wiki_context", {"toxicity": int(r["label_oc"])})


TRAIN_SETS = (gab, edos, implicit_hate, convabuse, stormfront, mlma, germeval, wiki_context)


# --- evaluation only ------------------------------------------------------------------------


def olid(root: Path) -> Iterator[Row]:
    folder = root / "olid"
    for r in _read(folder / "olid-training-v1.0.tsv", "\t"):
        yield Row(r["tweet"], "olid", _olid_labels(r["subtask_a"], r["subtask_b"]), part=TEST)
    gold = {}
    for level in "abc":
        with open(folder / f"labels-level{level}.csv", encoding="utf-8") as f:
            for line in f:
                tweet_id, label = line.strip().split(",")
                gold.setdefault(tweet_id, {})[level] = label
    for r in _read(folder / "testset-levela.tsv", "\t"):
        g = gold.get(r["id"], {})
        yield Row(r["tweet"], "olid", _olid_labels(g.get("a", "NOT"), g.get("b", "NULL")), part=TEST)


def _olid_labels(a: str, b: str) -> dict[str, int]:
    offensive = int(a == "OFF")
    labels = {"toxicity": offensive}
    if b in ("TIN", "UNT") or not offensive:
        labels["insult"] = int(b == "TIN")  # a targeted insult or threat
        labels["obscene"] = int(b == "UNT")  # untargeted profanity
    return labels


def hasoc(root: Path) -> Iterator[Row]:
    for name in ("english_dataset.tsv", "hasoc2019_en_test-2919.tsv"):
        for r in _read(root / "hasoc_2019_en" / name, "\t"):
            kind = r["task_2"]
            labels = {
                "toxicity": int(r["task_1"] == "HOF"),
                "identity_attack": int(kind == "HATE"),
                "insult": int(kind == "OFFN"),
                "obscene": int(kind == "PRFN"),
            }
            yield Row(r["text"], "hasoc", labels, part=TEST)


def ethos(root: Path) -> Iterator[Row]:
    folder = root / "ethos"
    for r in _read(folder / "Ethos_Dataset_Binary.csv", ";"):
        yield Row(r["comment"], "ethos", {"identity_attack": int(float(r["isHate"]) >= 0.5)}, part=TEST)
    for r in _read(folder / "Ethos_Dataset_Multi_Label.csv", ";"):
        yield Row(r["comment"], "ethos_violence", {"threat": int(float(r["violence"]) >= 0.5)}, part=TEST)


EVAL_SETS = (olid, hasoc, ethos)


# --- the Jigsaw sets, with the linear model's splits ----------------------------------------


def jigsaw(root: Path, negative_share: float = 1.0, seed: int = 0) -> Iterator[Row]:
    """jigsaw_binary, jigsaw_subset and davidson under ``worker.training``'s splits.

    ``negative_share`` keeps that share of jigsaw_binary's non-toxic *training* rows (all test
    rows stay), which spares the encoder a pass over 70,000 near-identical civil talk-page posts.
    The binary set's test part is split again by hash: ``validation`` for choosing blend weights
    and thresholds, ``test`` for reporting, so no reported row tuned anything.
    """
    from worker.training import load_splits

    splits = load_splits(root, seed=seed, progress=False)
    rng = np.random.default_rng(seed)
    b = splits.binary
    y = b.labels["toxicity"]
    for i in b.train:
        if y[i] or rng.random() < negative_share:
            yield Row(b.texts[i], "jigsaw", {"toxicity": int(y[i])})
    for i in b.test:
        part = VALIDATION if hash_part(b.texts[i]) == VALIDATION else TEST
        yield Row(b.texts[i], "jigsaw", {"toxicity": int(y[i])}, part=part)
    s = splits.subset
    test = set(s.test.tolist())
    for i, text in enumerate(s.texts):
        labels = {name: int(values[i]) for name, values in s.labels.items()}
        yield Row(text, "jigsaw_subset", labels, part=TEST if i in test else TRAIN)
    d = splits.davidson
    test = set(d.test.tolist())
    for i, text in enumerate(d.texts):
        labels = {
            "toxicity": int(d.labels["offensive"][i]),
            "identity_attack": int(d.labels["identity_attack"][i]),
        }
        yield Row(text, "davidson", labels, part=TEST if i in test else TRAIN)


def load(root: Path, *, jigsaw_negative_share: float = 1.0, use: str = "train") -> Dataset:
    """Every set for ``use="train"`` (training, validation and test parts) or the eval-only sets."""
    data = Dataset()
    if use == "eval":
        for reader in EVAL_SETS:
            data.rows.extend(r for r in reader(root) if r.text.strip())
        return data
    data.rows.extend(jigsaw(root, jigsaw_negative_share))
    for reader in TRAIN_SETS:
        for row in reader(root):
            if row.text.strip():
                row.part = hash_part(row.text)
                data.rows.append(row)
    for row in data.rows:
        if row.source in NOT_TOXIC_MEANS_NONE and row.labels.get("toxicity") == 0:
            row.labels = dict.fromkeys(ATTRIBUTES, 0)
    held_out = {normalise(r.text) for r in data.rows if r.part != TRAIN}
    data.rows = [r for r in data.rows if r.part != TRAIN or normalise(r.text) not in held_out]
    return data
