"""The per-attribute training data: every set mapped, held-out parts never trained on, eval-only sets out."""

from __future__ import annotations

from collections import Counter

import pytest

from worker.training import attribute_data as ad
from worker.training import data_root


@pytest.fixture(scope="module")
def data() -> ad.Dataset:
    if not (data_root() / "gab_hate_corpus").exists():
        pytest.skip(f"shared data not found at {data_root()} (set STET_DATA_DIR to the shared data folder)")
    return ad.load(data_root(), jigsaw_negative_share=0.05)


def test_no_training_text_is_held_out_anywhere(data):
    held_out = {ad.normalise(r.text) for r in data.rows if r.part != ad.TRAIN}
    trained = {ad.normalise(r.text) for r in data.rows if r.part == ad.TRAIN}
    assert held_out and trained
    assert not held_out & trained


def test_every_attribute_has_positives_and_negatives_to_train_on(data):
    y = data.matrix()[data.where(part=ad.TRAIN)]
    for j, name in enumerate(ad.ATTRIBUTES):
        labelled = y[:, j][y[:, j] >= 0]
        assert 0 < labelled.sum() < len(labelled), name


def test_only_sets_licensed_for_training_are_loaded(data):
    sources = Counter(r.source for r in data.rows)
    assert {"olid", "hasoc", "ethos"}.isdisjoint(sources)
    assert {"gab", "edos", "implicit_hate", "convabuse", "stormfront", "germeval", "wiki_context"} <= set(
        sources
    )
    evaluation = ad.load(data_root(), use="eval")
    assert {r.part for r in evaluation.rows} == {ad.TEST}


def test_a_set_labels_only_what_it_knows(data):
    german = next(r for r in data.rows if r.source == "germeval" and r.labels["toxicity"] == 1)
    assert german.language == "de" and "threat" not in german.labels
    civil = next(r for r in data.rows if r.source == "jigsaw" and r.labels["toxicity"] == 0)
    assert civil.labels == dict.fromkeys(ad.ATTRIBUTES, 0)  # not toxic: no kind of abuse either
    stormfront = next(r for r in data.rows if r.source == "stormfront")
    assert set(stormfront.labels) == {"identity_attack"}


def test_the_split_is_the_same_every_time():
    assert [ad.hash_part(t) for t in ("You people are vermin.", "Thanks for the article!")] == [
        ad.hash_part("you  people are VERMIN."),
        ad.hash_part("thanks for the article!"),
    ]
