"""Argument checks and random bits shared by the task generators (TASKS.md: every
generator validates its arguments and names the argument and its allowed range)."""

import numpy as np

from diffmem.models.tasks import check_int, check_rng

__all__ = ["check_int", "check_rng", "random_bits"]


def random_bits(rng, shape):
    """Independent fair bits, as float64 (the paper's 'random binary vectors')."""
    return rng.integers(0, 2, size=shape).astype(np.float64)
