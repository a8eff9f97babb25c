import numpy as np
import pytest

from diffmem.models.ntm.tasks import repeat_copy


@pytest.mark.parametrize("width,length,repeats", [(1, 1, 1), (8, 3, 4), (2, 10, 10), (5, 1, 7)])
def test_repeat_copy_layout_mask_and_targets(width, length, repeats):
    w, L, C = width, length, repeats
    inputs, targets, mask = repeat_copy(np.random.default_rng(0), width=w, length=L,
                                        repeats=C, max_repeats=10)
    T = L * (C + 1) + 3
    assert inputs.shape == (T, w + 2) and targets.shape == (T, w + 1) and mask.shape == (T,)
    assert inputs[0, w] == 1 and inputs[:, w].sum() == 1
    assert inputs[L + 1, w + 1] == pytest.approx(C / 10)
    assert np.count_nonzero(inputs[:, w + 1]) == 1
    vectors = inputs[1:L + 1, :w]
    assert not inputs[L + 1:, :w].any()
    np.testing.assert_array_equal(mask, [0] * (L + 2) + [1] * (C * L + 1))
    for c in range(C):                      # C copies back to back
        first = L + 2 + c * L
        np.testing.assert_array_equal(targets[first:first + L, :w], vectors)
    end = np.zeros(T)
    end[T - 1] = 1                          # then the end marker, alone
    np.testing.assert_array_equal(targets[:, w], end)
    assert not targets[T - 1, :w].any() and not targets[:L + 2].any()


def test_repeat_copy_raw_count():
    inputs, _, _ = repeat_copy(np.random.default_rng(0), width=4, length=2, repeats=6,
                               normalise=False)
    assert inputs[3, 5] == 6.0
