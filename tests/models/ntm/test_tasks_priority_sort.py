import numpy as np
import pytest

from diffmem.models.ntm.tasks import priority_sort


@pytest.mark.parametrize("width,n_items,n_out", [(8, 20, 16), (1, 1, 1), (3, 5, 5), (4, 9, 2)])
@pytest.mark.parametrize("seed", range(3))
def test_priority_sort_outputs_sorted_by_priority(width, n_items, n_out, seed):
    inputs, targets, mask = priority_sort(np.random.default_rng(seed), width=width,
                                          n_items=n_items, n_out=n_out)
    T, w = n_items + n_out + 2, width
    assert inputs.shape == (T, w + 3) and targets.shape == (T, w) and mask.shape == (T,)
    start, stop = np.zeros(T), np.zeros(T)
    start[0], stop[n_items + 1] = 1, 1
    np.testing.assert_array_equal(inputs[:, w], start)
    np.testing.assert_array_equal(inputs[:, w + 1], stop)
    priority = inputs[1:n_items + 1, w + 2]
    assert np.all((priority >= -1) & (priority <= 1)) and np.count_nonzero(priority) == n_items
    assert not np.delete(inputs[:, w + 2], np.arange(1, n_items + 1)).any()
    np.testing.assert_array_equal(mask, [0] * (n_items + 2) + [1] * n_out)
    assert not targets[:n_items + 2].any()
    assert not inputs[n_items + 2:].any()

    # Independent check: pick the highest priority repeatedly, by hand.
    remaining = list(range(n_items))
    for t in range(n_items + 2, T):
        best = max(remaining, key=lambda i: priority[i])
        remaining.remove(best)
        np.testing.assert_array_equal(targets[t], inputs[1 + best, :w])
