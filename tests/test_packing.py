"""The compact storage of model weights (``worker/scorers/packing.py``): what it rounds and what it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from worker.scorers import packing


@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0, 1e4])
def test_weights_come_back_within_half_a_step(scale: float) -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_t(3, size=(7, 1000)) * scale
    values[:, ::3] = 0.0
    planes = packing.pack(values)
    assert planes.dtype == np.uint8
    got = packing.unpack(planes, packing.STEP)
    assert got.shape == (values.size,)
    assert np.abs(got - values.ravel()).max() <= packing.STEP / 2
    assert np.all(got[values.ravel() == 0.0] == 0.0)
    # Multiples of a power of two: float32 reads exactly the numbers float64 does.
    np.testing.assert_array_equal(packing.unpack(planes, packing.STEP, np.float32), got.astype(np.float32))


def test_small_weights_of_either_sign_take_small_codes() -> None:
    """Zig-zag: -1, 1, -2 … steps are 1, 2, 3 …, so small weights fill one byte plane and the others
    are zeros; large ones widen the planes rather than overflow."""
    steps = np.array([0, -1, 1, -2, 2, -127, 127])
    assert packing.pack(steps * packing.STEP).shape == (1, steps.size)
    np.testing.assert_array_equal(packing.unpack(packing.pack(steps * packing.STEP), 1.0), steps * 1.0)
    wide = np.array([-40_000.0, 40_000.0]) * packing.STEP
    assert packing.pack(wide).shape == (4, 2)
    np.testing.assert_array_equal(packing.unpack(packing.pack(wide), packing.STEP), wide)
    assert packing.unpack(packing.pack(np.zeros(0)), packing.STEP).shape == (0,)


def test_tables_are_lossless() -> None:
    rng = np.random.default_rng(1)
    idf = (np.log(rng.integers(1, 10**5, size=200_000)) + 1.0).astype(np.float32)
    values, positions = packing.pack_table(idf)
    assert values.dtype == np.float32 and 256 < values.size < 200_000
    assert positions.shape == (np.min_scalar_type(values.size - 1).itemsize, idf.size)
    np.testing.assert_array_equal(packing.unpack_table(values, positions), idf)
