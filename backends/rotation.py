"""Circular shifts as rolls: what lets an ops table avoid a gather whose gradient is a
scatter-add (slow on CPU)."""

import numpy as np


def rotation_offsets(idx):
    """For an index array idx [S, N] whose every row is a rotation of 0..N-1 (row j =
    (i - s_j) mod N, a circular shift), the offsets s_j mod N; otherwise None.

    Lets an ops table build ``w[..., idx]`` from rolls, whose gradient is a roll, where
    a gather's gradient is a scatter-add (slow on CPU).
    """
    idx = np.asarray(idx)
    if idx.ndim != 2 or idx.shape[1] == 0:
        return None
    n = idx.shape[1]
    offsets = [int(s) for s in (-idx[:, 0]) % n]
    rows = np.arange(n)
    if all(np.array_equal(row, (rows - s) % n) for row, s in zip(idx, offsets)):
        return offsets
    return None
