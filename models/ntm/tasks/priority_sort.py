"""Priority sort (Graves et al. 2014, section 4.5; TASKS.md "priority_sort")."""

import numpy as np

from ._common import check_int, check_rng, random_bits


def sizes(*, width=8, **_):
    """(X, Y): data bits + start + stop + priority channels in, data bits out."""
    width = check_int("width", width, 1)
    return width + 3, width


def priority_sort(rng, *, width=8, n_items=20, n_out=16):
    """Output the ``n_out`` highest-priority of ``n_items`` vectors, highest first.

    T = n_items + n_out + 2.  Inputs [T, width+3]: step 0 sets the start channel
    (``width``); steps 1..n_items carry the vectors with their priority, drawn uniformly
    from [-1, 1], on channel ``width+2``; step n_items+1 sets the stop channel
    (``width+1``); the last n_out steps are zero.  Targets [T, width]: on those last
    n_out steps, the vectors sorted by decreasing priority; the mask is 1 there only
    (outputs never overlap input steps, as in the paper's figure 16).
    Batch knob: ``n_items`` (``make_batch`` uses min(n_out, n_items)).
    """
    check_rng(rng)
    width = check_int("width", width, 1)
    n_items = check_int("n_items", n_items, 1)
    n_out = check_int("n_out", n_out, 1, n_items)
    T = n_items + n_out + 2
    vectors = random_bits(rng, (n_items, width))
    priority = rng.uniform(-1.0, 1.0, size=n_items)
    order = np.argsort(-priority, kind="stable")[:n_out]  # ties have probability 0

    inputs = np.zeros((T, width + 3))
    inputs[0, width] = 1.0
    inputs[1:n_items + 1, :width] = vectors
    inputs[1:n_items + 1, width + 2] = priority
    inputs[n_items + 1, width + 1] = 1.0

    targets = np.zeros((T, width))
    targets[n_items + 2:] = vectors[order]
    mask = np.zeros(T)
    mask[n_items + 2:] = 1.0
    return inputs, targets, mask
