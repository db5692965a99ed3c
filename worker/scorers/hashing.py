"""Hashed n-gram features as scikit-learn makes them, with numpy and mmh3 only.

The linear models are trained on scikit-learn's ``HashingVectorizer`` (``worker/training/``); the
worker makes the same features here, so it needs neither scikit-learn nor scipy. What is copied
(``tests/test_hashing.py`` checks it bit for bit against scikit-learn):

* analysis: ``str.lower()`` (no accent stripping), then for ``analyzer="word"`` the
  ``token_pattern``'s ``findall`` and its n-grams joined by one space; for ``"char_wb"`` runs of
  white space made one space, each word padded with a space either side and cut into character
  n-grams, a padded word shorter than ``n`` counted once;
* hashing (``FeatureHasher(input_type="string", alternate_sign=False)``): the signed 32-bit
  MurmurHash3 of the UTF-8 bytes, seed 0; column ``abs(h) % n_features``; repeats add up.

``SparseRows`` and ``SparseWeights`` stand in for scipy's matrices. Their products add terms one
after another in the order and precision scipy's do, so scores stay the same to the last bit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import mmh3
import numpy as np

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # HashingVectorizer's default
_OPTIONS = {"analyzer", "ngram_range", "n_features", "lowercase", "token_pattern"}
_WHITE_SPACES = re.compile(r"\s\s+")


def word_ngrams(tokens: Sequence[str], low: int, high: int) -> list[str]:
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    grams = []
    for word in _WHITE_SPACES.sub(" ", text).split():
        padded = f" {word} "
        if len(padded) > high:
            grams += [padded[i : i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]
            continue
        for n in range(low, high + 1):  # a short word: counted once, for the smallest n that covers it
            grams += [padded[i : i + n] for i in range(max(len(padded) - n, 0) + 1)]
            if len(padded) <= n:
                break
    return grams


def ngrams(text: str, hashing: Mapping[str, Any]) -> list[str]:
    """The n-grams ``HashingVectorizer(**hashing)`` hashes for ``text``."""
    if unknown := set(hashing) - _OPTIONS:
        raise ValueError(f"hashing options not supported at run time: {', '.join(sorted(unknown))}")
    if hashing.get("lowercase", True):
        text = text.lower()
    low, high = hashing.get("ngram_range", (1, 1))
    analyzer = hashing.get("analyzer", "word")
    if analyzer == "word":
        return word_ngrams(re.findall(hashing.get("token_pattern", TOKEN_PATTERN), text), low, high)
    if analyzer == "char_wb":
        return char_wb_ngrams(text, low, high)
    raise ValueError(f"analyzer {analyzer!r} is not supported at run time")


def columns(grams: Sequence[str], n_features: int) -> np.ndarray:
    """Each string's column, as ``FeatureHasher(n_features, input_type="string")`` hashes it."""
    hashes = np.fromiter(map(mmh3.hash, grams), dtype=np.int64, count=len(grams))
    return np.abs(hashes) % n_features


def hashed_counts(texts: Sequence[str], hashing: Mapping[str, Any]) -> SparseRows:
    """``HashingVectorizer(**hashing, alternate_sign=False, norm=None).transform(texts)``."""
    width = hashing.get("n_features", 2**20)
    grams = [ngrams(text, hashing) for text in texts]
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), [len(g) for g in grams])
    cells, counts = np.unique(
        rows * width + columns(list(chain.from_iterable(grams)), width), return_counts=True
    )
    indptr = np.concatenate([[0], np.cumsum(np.bincount(cells // width, minlength=len(texts)))])
    return SparseRows(indptr, cells % width, counts.astype(np.float64), width)


def sigmoid(z: Any) -> Any:
    """The logistic function of log-odds, without overflow for large ``|z|``."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass(frozen=True)
class SparseRows:
    """Rows of a sparse matrix in CSR layout: row ``i`` is ``indices[indptr[i]:indptr[i + 1]]``
    with values ``data[...]``, in the order its products add them up."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.indptr.size - 1, self.width

    def row_of_each(self) -> np.ndarray:
        return np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))

    def with_data(self, data: np.ndarray) -> SparseRows:
        return SparseRows(self.indptr, self.indices, data, self.width)

    def astype(self, dtype: Any) -> SparseRows:
        """The values in ``dtype``; as scipy's ``astype`` does, a change of type sorts each row's columns."""
        if self.data.dtype == dtype:
            return self
        order = np.lexsort((self.indices, self.row_of_each()))
        return SparseRows(self.indptr, self.indices[order], self.data[order].astype(dtype), self.width)

    def row_sums(self) -> np.ndarray:
        """Each row's sum, as scipy's ``x.sum(axis=1)`` adds it (numpy's ``reduceat``)."""
        out = np.zeros(self.shape[0], dtype=self.data.dtype)
        filled = np.flatnonzero(np.diff(self.indptr))
        if filled.size:
            out[filled] = np.add.reduceat(self.data, self.indptr[filled])
        return out

    def scaled(self, factors: np.ndarray) -> SparseRows:
        """Row ``i`` times ``factors[i]``, laid out as ``scipy.sparse.diags(factors) @ x`` lays it:
        each row's columns in reverse order, zeros dropped."""
        rows = self.row_of_each()
        reverse = (self.indptr[:-1] + self.indptr[1:] - 1)[rows] - np.arange(rows.size)
        data = self.data[reverse] * factors[rows]
        kept = data != 0
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[kept], minlength=self.shape[0]))])
        return SparseRows(indptr, self.indices[reverse][kept], data[kept], self.width)

    @staticmethod
    def hstack(blocks: Sequence[SparseRows]) -> SparseRows:
        """The blocks side by side, each row's entries block after block (as ``scipy.sparse.hstack``)."""
        indptr = np.sum([b.indptr for b in blocks], axis=0)
        indices = np.empty(indptr[-1], dtype=np.int64)
        data = np.empty(indptr[-1], dtype=np.result_type(*(b.data for b in blocks)))
        start, offset = indptr[:-1].copy(), 0
        for b in blocks:
            rows = b.row_of_each()
            at = start[rows] + np.arange(rows.size) - b.indptr[rows]
            indices[at], data[at] = b.indices + offset, b.data
            start += np.diff(b.indptr)
            offset += b.width
        return SparseRows(indptr, indices, data, offset)

    def dot(self, vector: np.ndarray) -> np.ndarray:
        """``x @ vector``: each row's terms added in order, in the wider of the two precisions."""
        dtype = np.result_type(self.data, vector)
        out = np.zeros(self.shape[0], dtype=dtype)
        np.add.at(out, self.row_of_each(), self.data.astype(dtype) * vector[self.indices].astype(dtype))
        return out

    def matmul(self, weights: SparseWeights) -> np.ndarray:
        """``x @ weights`` as a dense (rows, labels) array, added up as ``dot`` does."""
        first = weights.indptr[self.indices]
        found = weights.indptr[self.indices + 1] - first
        source = np.repeat(np.arange(self.indices.size), found)
        gather = np.repeat(first - (np.cumsum(found) - found), found) + np.arange(source.size)
        dtype = np.result_type(self.data, weights.values)
        products = self.data[source].astype(dtype) * weights.values[gather].astype(dtype)
        out = np.zeros((self.shape[0], weights.labels), dtype=dtype)
        cells = self.row_of_each()[source] * weights.labels + weights.label[gather]
        np.add.at(out.reshape(-1), cells, products)
        return out


@dataclass(frozen=True)
class SparseWeights:
    """A sparse (features, labels) weight matrix by feature: feature ``j``'s weights are
    ``values[indptr[j]:indptr[j + 1]]`` for the labels ``label[...]``."""

    indptr: np.ndarray
    label: np.ndarray
    values: np.ndarray
    labels: int

    @classmethod
    def from_entries(cls, index: Any, label: Any, values: Any, shape: tuple[int, int]) -> SparseWeights:
        """The matrix with ``values[i]`` at (``index[i]``, ``label[i]``)."""
        index, label, values = np.asarray(index), np.asarray(label), np.asarray(values)
        if np.any(index[1:] < index[:-1]):
            order = np.argsort(index, kind="stable")
            index, label, values = index[order], label[order], values[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(index, minlength=shape[0]))]).astype(np.int32)
        return cls(indptr, label, values, shape[1])
