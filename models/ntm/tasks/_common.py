"""Argument checks and random bits shared by the task generators (TASKS.md: every
generator validates its arguments and names the argument and its allowed range)."""

import numbers

import numpy as np


def check_rng(rng):
    # Tasks never touch numpy's global seed: the Generator *is* the seed.
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng: expected a numpy.random.Generator "
                         f"(numpy.random.default_rng(seed)), got {type(rng).__name__}")
    return rng


def check_int(name, value, lo, hi=None):
    """``value`` as an int in [lo, hi] (hi=None: no upper bound), else ValueError."""
    # bool is an Integral; True as a length is always a mistake.
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and lo <= value and (hi is None or value <= hi):
        return int(value)
    allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
    raise ValueError(f"{name}: expected an integer {allowed}, got {value!r}")


def random_bits(rng, shape):
    """Independent fair bits, as float64 (the paper's 'random binary vectors')."""
    return rng.integers(0, 2, size=shape).astype(np.float64)
