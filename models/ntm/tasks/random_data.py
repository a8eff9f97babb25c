"""Random data (TASKS.md "random"): exercises the model away from task data."""

import numbers

import numpy as np

from ._common import check_int, check_rng


def sizes(*, input_size, output_size, **_):
    """(X, Y) as given."""
    return check_int("input_size", input_size, 1), check_int("output_size", output_size, 1)


def random_data(rng, *, input_size, output_size, length, mask_prob=0.5):
    """Inputs N(0, 1) [T, X], targets uniform on [0, 1] [T, Y], mask [T] of 0/1.

    T = ``length``.  Each mask entry is 1 with probability ``mask_prob`` in (0, 1]; if
    none came out 1, one uniformly chosen step is set, so every sequence has a loss.
    Targets are soft (not bits) so the loss's z*y term is exercised at general z.
    Batch knob: ``length``.
    """
    check_rng(rng)
    X, Y = sizes(input_size=input_size, output_size=output_size)
    T = check_int("length", length, 1)
    is_number = isinstance(mask_prob, numbers.Real) and not isinstance(mask_prob, bool)
    if not (is_number and 0.0 < mask_prob <= 1.0):  # NaN fails the comparison too
        raise ValueError(f"mask_prob: expected a number in (0, 1], got {mask_prob!r}")
    inputs = rng.standard_normal((T, X))
    targets = rng.uniform(0.0, 1.0, size=(T, Y))
    mask = (rng.uniform(size=T) < mask_prob).astype(np.float64)
    if not mask.any():
        mask[rng.integers(0, T)] = 1.0
    return inputs, targets, mask
