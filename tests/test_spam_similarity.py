"""Near-duplicate detection: copies and light edits match, unrelated comments do not."""

from __future__ import annotations

import os
import subprocess
import sys

from service.normalize import normalize
from worker.scorers.spam.similarity import BANDS, SIGNATURE_BYTES, band_keys, signature, similar, similarity

SPAM = "Earn $500 a day from home, message me on WhatsApp for details! Limited places, start today."
EDITS = [
    SPAM,
    SPAM + " Really!",
    SPAM.replace("$500", "$700"),
    "EARN $500 a day fr0m h0me, message me on WhatsApp for details!!! Limited places, start today.",
    "Earn $500 a day from\u200b home, message me on WhatsАpp for details! Limited places, start today.",
    "Hi all. " + SPAM,
]
UNRELATED = [
    "The council vote on the bridge closure was delayed again, according to the minutes.",
    "I read the whole article and I still don't understand why the school budget was cut.",
    "Great photos of the marathon, my neighbour ran it in under four hours!",
]


def test_identical_comments_are_identical() -> None:
    assert similarity(signature(SPAM), signature(SPAM)) == 1.0


def test_lightly_edited_copies_are_similar() -> None:
    original = signature(SPAM)
    for copy in EDITS:
        assert similar(original, signature(copy)), (copy, similarity(original, signature(copy)))


def test_unrelated_comments_are_not_similar() -> None:
    signatures = [signature(t) for t in [SPAM, *UNRELATED]]
    for i, a in enumerate(signatures):
        for b in signatures[i + 1 :]:
            assert similarity(a, b) < 0.2
            assert not similar(a, b)


def test_near_duplicates_share_a_band_key_and_unrelated_ones_do_not() -> None:
    keys = set(band_keys(signature(SPAM)))
    assert len(keys) == BANDS
    for copy in EDITS:
        assert keys & set(band_keys(signature(copy))), copy
    for other in UNRELATED:
        assert not keys & set(band_keys(signature(other))), other


def test_signature_is_small_stable_bytes_whatever_the_process() -> None:
    sig = signature(SPAM)
    assert isinstance(sig, bytes) and len(sig) == SIGNATURE_BYTES
    assert signature(normalize(SPAM)) == sig
    code = f"from worker.scorers.spam.similarity import signature; print(signature({SPAM!r}).hex())"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert other.stdout.strip() == sig.hex()


def test_empty_and_emoji_only_comments() -> None:
    assert len(signature("")) == SIGNATURE_BYTES
    assert similar(signature("👍👍"), signature("👍👍"))
    assert not similar(signature("👍👍"), signature("🙄🙄"))
