"""scikit-learn's ``HashingVectorizer`` for a feature block of the linear models (``FEATURE_BLOCKS``).

Training counts n-grams with it; the worker makes the same counts without scikit-learn
(``worker/scorers/hashing.py``, checked against this by ``tests/test_hashing.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer


def make_vectorizer(block: dict[str, Any], dtype: type = np.float64) -> HashingVectorizer:
    """The raw-count hashing vectorizer of one feature block (idf and norm are applied later)."""
    kwargs = dict(block["hashing"])
    kwargs["ngram_range"] = tuple(kwargs["ngram_range"])
    return HashingVectorizer(**kwargs, alternate_sign=False, norm=None, dtype=dtype)
