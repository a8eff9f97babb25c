import numpy as np
import pytest

from diffmem.models.ntm.tasks import copy


@pytest.mark.parametrize("width,length", [(1, 1), (8, 1), (8, 20), (3, 7)])
def test_copy_layout_mask_and_targets(width, length):
    inputs, targets, mask = copy(np.random.default_rng(length), width=width, length=length)
    T, L, w = 2 * length + 2, length, width
    assert inputs.shape == (T, w + 2) and targets.shape == (T, w) and mask.shape == (T,)
    assert all(a.dtype == np.float64 for a in (inputs, targets, mask))
    start, stop = np.zeros(T), np.zeros(T)
    start[0], stop[L + 1] = 1, 1
    np.testing.assert_array_equal(inputs[:, w], start)
    np.testing.assert_array_equal(inputs[:, w + 1], stop)
    vectors = inputs[1:L + 1, :w]
    assert set(np.unique(vectors)) <= {0.0, 1.0}
    assert not inputs[0, :w].any() and not inputs[L + 1:, :w].any()
    np.testing.assert_array_equal(mask, [0] * (L + 2) + [1] * L)
    np.testing.assert_array_equal(targets[L + 2:], vectors)   # reproduces, in order
    assert not targets[:L + 2].any()
