"""How the shipped models' weights are stored: small integers that ``np.savez_compressed`` shrinks well.

Two encodings, each decoded once when a model loads (scoring then runs on float arrays, as before):

* **weights** (``pack``): every weight rounded to a multiple of ``STEP`` (2^-10), the integer
  multiples zig-zag coded (0, -1, 1, -2 … become 0, 1, 2, 3 …: small whatever their sign) and
  stored as byte planes (all the low bytes, then all the high bytes), so the compressor sees long
  runs of zeros instead of interleaved sign bytes. Sparse weights are stored dense: a weight that
  is absent is a 0, which costs the compressor about a bit, less than an index would. Decoding
  is exact (a multiple of a power of two), so float32 and float64 read the same numbers;
* **tables** (``pack_table``): an array with few distinct values (an IDF, one value per document
  frequency) as those values and each element's position among them: lossless.

Rounding moves each weight by at most ``STEP / 2``, so a log-odds ``x · w`` moves by about
``STEP / √12 · ‖x‖`` (TF-IDF rows have ``‖x‖ = √blocks``): 4e-4. Measured against the float
weights (``python -m benchmarks.model_storage``): on the 64,969 held-out rows of ``stet model eval
--task attributes`` no ensemble or linear score moves by more than 4e-4 and 2 ensemble decisions
change; on the YouTube spam set no spam score moves by more than 6e-4. ``TOLERANCE`` is what
training checks a written artifact against. Coarser steps save little more and change more: 2^-9
and 2^-8 make the ensemble's and the linear model's files 1.0 and 2.0 MB smaller than 2^-10 does
(7.9 and 6.8 MB against 8.9) and change 9 and 12 of those ensemble decisions. A 256-value codebook
(k-means) loses the few large weights that decide most scores; int8 with one scale per array
moves scores by up to 0.065 (the linear coefficients alone).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

STEP = 2.0**-10
TOLERANCE = 0.002  # the most a written model's score may differ from the float model it stores

# The weights' format as model cards record it (``storage`` in each ``.json``, with the rest).
STORAGE: dict[str, Any] = {
    "weights": "multiples of step: zig-zag integers as byte planes, dense (0 where a weight is absent)",
    "step": STEP,
}


def _planes(codes: np.ndarray) -> np.ndarray:
    """Unsigned integers as a (bytes, n) uint8 array: every element's lowest byte, then the next."""
    codes = codes.ravel().astype(codes.dtype.newbyteorder("<"))
    return np.ascontiguousarray(codes.view(np.uint8).reshape(-1, codes.itemsize).T)


def _unplanes(planes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(planes.T).view(f"<u{planes.shape[0]}").ravel()


def _unsigned(codes: np.ndarray) -> np.ndarray:
    """``codes`` in the smallest unsigned type that holds them all."""
    return codes.astype(np.min_scalar_type(int(codes.max(initial=0))))


def pack(values: Any, step: float = STEP) -> np.ndarray:
    """``values`` (any shape; read back flat) rounded to multiples of ``step``, as byte planes."""
    codes = np.round(np.asarray(values, dtype=np.float64).ravel() / step).astype(np.int64)
    return _planes(_unsigned(np.where(codes >= 0, 2 * codes, -2 * codes - 1)))


def unpack(planes: np.ndarray, step: float, dtype: Any = np.float64) -> np.ndarray:
    """The flat array ``pack`` stored, in ``dtype``."""
    zigzag = _unplanes(planes).astype(np.int32 if planes.shape[0] <= 2 else np.int64)  # int32: faster
    return ((zigzag >> 1) ^ -(zigzag & 1)).astype(dtype) * np.asarray(step, dtype=dtype)


def pack_table(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``values``' distinct values, and each element's position among them as byte planes."""
    distinct, position = np.unique(np.asarray(values).ravel(), return_inverse=True)
    return distinct, _planes(_unsigned(position))


def unpack_table(distinct: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The flat array ``pack_table`` stored."""
    return distinct[_unplanes(positions)]


def release_freed_memory() -> None:
    """Give the memory that decoding's temporaries freed back to the operating system.

    After a large array is freed, glibc raises its threshold for serving allocations from fresh
    mappings, so the decoding's later temporaries come from the heap and stay there once freed: a
    process that had loaded the ensemble held 300 MB against 226 MB after ``malloc_trim`` (the
    arrays it keeps are 65 MB), in every worker and API process. Without glibc this does nothing.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
