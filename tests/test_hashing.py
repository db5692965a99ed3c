"""The worker's feature hashing (numpy + mmh3) equals scikit-learn's, bit for bit."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher

from worker.scorers.hashing import columns, hashed_counts, ngrams, sigmoid
from worker.scorers.linear import FEATURE_BLOCKS, MODELS_DIR, LinearToxicityScorer
from worker.training.vectorizer import make_vectorizer

TEXTS = [
    "",
    " \t\n ",
    "a I x",
    "You are a stupid idiot, go die. IDIOT idiot idiot idiot!!",
    "ab ab ab ab ab ab ab ab",  # the same n-grams many times over
    "Du bist so ein verdammter Idiot. Straße, Größe, STRASSE, ẞ",
    "Tu es vraiment un imbécile, ferme-la ! « déjà vu », naïve, Œuvre, ﬁn",
    "café vs cafe\u0301 (composed and decomposed accents)",
    "İstanbul ΣΑΣ ὈΔΥΣΣΕΎΣ ǅemal",  # lower-casing that changes the length, or depends on context
    "emoji 😀😀 🤬🤬🤬 👍🏽 family 👨‍👩‍👧 flags 🇩🇪🇫🇷 #hashtag @user",
    "日本語のテキスト、中文文本，한국어 텍스트 и русский текст, عربي",
    "white\u00a0space\u2003kinds\u3000here\x1cand\x85there\u200bzero  width\r\n\x0bvtab",
    "don't f**k e-mail U.S.A. snake_case digits 12345 3.14 a1b2",
    "x" * 3000,
    "you are a stupid moron " * 300,
    " ".join(f"wörd{i} ünïcode{i % 7}" for i in range(500)),
]
SPAM_BLOCKS = json.loads((MODELS_DIR / "spam-linear-2.json").read_text(encoding="utf-8"))["features"][
    "blocks"
]
HASHINGS: list[dict[str, Any]] = [
    *(block["hashing"] for block in FEATURE_BLOCKS),
    *(block["hashing"] for block in SPAM_BLOCKS),
    {"analyzer": "word", "ngram_range": [1, 1], "n_features": 2**10},
    {"analyzer": "word", "ngram_range": [2, 3], "n_features": 2**18, "lowercase": False},
    {"analyzer": "word", "ngram_range": [1, 2], "n_features": 1000, "token_pattern": r"(?u)\b(\w+)\b"},
    {"analyzer": "char_wb", "ngram_range": [3, 3], "n_features": 97, "lowercase": False},
    {"analyzer": "char_wb", "ngram_range": [1, 8], "n_features": 2**20},
]


@pytest.mark.parametrize(
    "hashing", HASHINGS, ids=lambda h: f"{h['analyzer']}{h['ngram_range']}/{h['n_features']}"
)
def test_counts_equal_hashing_vectorizer(hashing: dict[str, Any]) -> None:
    expected = sp.csr_matrix(make_vectorizer({"hashing": hashing}).transform(TEXTS))
    got = hashed_counts(TEXTS, hashing)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got.indptr, expected.indptr)
    np.testing.assert_array_equal(got.indices, expected.indices)
    np.testing.assert_array_equal(got.data, expected.data)


def test_columns_equal_feature_hasher() -> None:
    grams = [gram for text in TEXTS for h in HASHINGS for gram in ngrams(text, h)]
    grams += ["", " ", "\x00", "🤬", "e\u0301", "\uffff"]
    for n_features in (2**20, 2**17, 1000, 7):
        hasher = FeatureHasher(n_features, input_type="string", alternate_sign=False)
        np.testing.assert_array_equal(
            columns(grams, n_features), hasher.transform([[g] for g in grams]).indices
        )


def test_linear_features_and_log_odds_equal_scipys() -> None:
    """TF-IDF rows, their order, and the products in float64 and (as the ensemble reads them)
    float32 are what the scipy implementation computed, to the last bit."""
    scorer = LinearToxicityScorer.load()
    texts = [*TEXTS, "lone \ud83d surrogate"]
    got = scorer.features(texts)
    clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    blocks = []
    for block, idf in zip(scorer.blocks, scorer.idf, strict=True):
        x = sp.csr_matrix(make_vectorizer(block).transform(clean))
        x.data = (np.log(x.data) + 1.0) * idf[x.indices]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0.0] = 1.0
        blocks.append(sp.csr_matrix(sp.diags(1.0 / norms) @ x))
    expected = sp.hstack(blocks, format="csr")
    for rows, matrix in ((got, expected), (got.astype(np.float32), expected.astype(np.float32))):
        np.testing.assert_array_equal(rows.indptr, matrix.indptr)
        np.testing.assert_array_equal(rows.indices, matrix.indices)
        np.testing.assert_array_equal(rows.data, matrix.data)
        z, heads = scorer.log_odds(rows)
        np.testing.assert_array_equal(z, matrix @ np.concatenate(scorer.coef) + scorer.intercept)
        assert heads.shape == (len(texts), len(scorer.labels) - 1)


def test_sigmoid_is_stable_far_out() -> None:
    z = np.array([-1e6, -800.0, -30.0, 0.0, 30.0, 800.0, 1e6])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        p = sigmoid(z)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-np.clip(z, -700, 700))), rtol=1e-15, atol=1e-300)
    assert p[0] == 0.0 and p[-1] == 1.0 and p[3] == 0.5


def test_unsupported_options_are_refused() -> None:
    with pytest.raises(ValueError, match="strip_accents"):
        ngrams("café", {"analyzer": "word", "strip_accents": "unicode"})
    with pytest.raises(ValueError, match="char"):
        ngrams("café", {"analyzer": "char"})
