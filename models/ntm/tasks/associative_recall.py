"""Associative recall (Graves et al. 2014, section 4.3; TASKS.md "associative_recall")."""

import numpy as np

from ._common import check_int, check_rng


def sizes(*, width=6, **_):
    """(X, Y): data bits + item delimiter + query delimiter in, data bits out."""
    width = check_int("width", width, 1)
    return width + 2, width


def distinct_items(rng, n_items, item_len, width):
    """``n_items`` distinct random items [n_items, item_len, width] of bits.

    Distinct so that the queried item occurs once and its successor is unambiguous:
    drawn without replacement from all 2^(item_len*width) patterns.
    """
    bits = item_len * width
    if bits <= 62:  # the patterns can be numbered by int64: exact sampling without replacement
        codes = rng.choice(2 ** bits, size=n_items, replace=False)
        items = (codes[:, None] >> np.arange(bits)) & 1
    else:  # iid draws collide with probability < n_items^2 / 2^63: the loop runs once
        while True:
            items = rng.integers(0, 2, size=(n_items, bits))
            if len(np.unique(items, axis=0)) == n_items:
                break
    return items.reshape(n_items, item_len, width).astype(np.float64)


def associative_recall(rng, *, width=6, item_len=3, n_items):
    """Recall the item that followed a queried one.

    Each of the ``n_items`` items is ``item_len`` vectors of ``width`` bits; items are
    distinct.  Inputs [T, width+2]: every item is preceded by one delimiter step on
    channel ``width``; after the items come a query delimiter on channel ``width+1``,
    a copy of item q, and a second query delimiter; then ``item_len`` zero steps on
    which the targets [T, width] hold item q+1 and the mask is 1 (0 elsewhere).
    The queried item q is uniform over all items but the last (the paper's "next item").
    T = (n_items + 2) * (item_len + 1).  Batch knob: ``n_items``.
    """
    check_rng(rng)
    width = check_int("width", width, 1)
    item_len = check_int("item_len", item_len, 1)
    n_items = check_int("n_items", n_items, 2, 2 ** (item_len * width))
    step = item_len + 1  # one delimiter + one item
    T = (n_items + 2) * step
    items = distinct_items(rng, n_items, item_len, width)
    q = int(rng.integers(0, n_items - 1))

    inputs = np.zeros((T, width + 2))
    for i in range(n_items):
        inputs[i * step, width] = 1.0
        inputs[i * step + 1:(i + 1) * step, :width] = items[i]
    query = n_items * step
    inputs[query, width + 1] = 1.0
    inputs[query + 1:query + step, :width] = items[q]
    inputs[query + step, width + 1] = 1.0

    answer = query + step + 1
    targets = np.zeros((T, width))
    targets[answer:] = items[q + 1]
    mask = np.zeros(T)
    mask[answer:] = 1.0
    return inputs, targets, mask
