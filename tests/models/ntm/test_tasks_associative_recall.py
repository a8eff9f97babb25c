import numpy as np
import pytest

from diffmem.models.ntm.tasks import associative_recall


def parse(inputs, width, item_len, n_items):
    """Read the items and the query back from the inputs, by the TASKS.md layout."""
    step = item_len + 1
    items = [inputs[i * step + 1:(i + 1) * step, :width] for i in range(n_items)]
    query = inputs[n_items * step + 1:(n_items + 1) * step, :width]
    return items, query


@pytest.mark.parametrize("width,item_len,n_items", [(6, 3, 2), (6, 3, 6), (1, 1, 2), (2, 2, 16)])
@pytest.mark.parametrize("seed", range(4))
def test_associative_recall_answers_the_next_item(width, item_len, n_items, seed):
    inputs, targets, mask = associative_recall(np.random.default_rng(seed), width=width,
                                               item_len=item_len, n_items=n_items)
    step = item_len + 1
    T = (n_items + 2) * step
    assert inputs.shape == (T, width + 2) and targets.shape == (T, width) and mask.shape == (T,)
    delimiters = np.zeros(T)
    delimiters[0:n_items * step:step] = 1
    np.testing.assert_array_equal(inputs[:, width], delimiters)
    queries = np.zeros(T)
    queries[[n_items * step, (n_items + 1) * step]] = 1
    np.testing.assert_array_equal(inputs[:, width + 1], queries)
    assert not inputs[delimiters + queries == 1, :width].any()
    assert not inputs[(n_items + 1) * step:, :width].any()

    items, query = parse(inputs, width, item_len, n_items)
    assert len({item.tobytes() for item in items}) == n_items          # distinct
    matches = [i for i, item in enumerate(items) if np.array_equal(item, query)]
    assert len(matches) == 1 and matches[0] < n_items - 1            # not the last
    answer = T - item_len
    np.testing.assert_array_equal(mask, [0] * answer + [1] * item_len)
    np.testing.assert_array_equal(targets[answer:], items[matches[0] + 1])
    assert not targets[:answer].any()


def test_associative_recall_queries_every_item_but_the_last():
    queried = set()
    for seed in range(60):
        inputs, _, _ = associative_recall(np.random.default_rng(seed), n_items=4)
        items, query = parse(inputs, 6, 3, 4)
        queried |= {i for i, item in enumerate(items) if np.array_equal(item, query)}
    assert queried == {0, 1, 2}


def test_associative_recall_wide_items_beyond_int64():
    inputs, targets, mask = associative_recall(np.random.default_rng(1), width=8, item_len=9,
                                               n_items=5)
    assert inputs.shape == (70, 10) and mask.sum() == 9
