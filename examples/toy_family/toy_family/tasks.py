"""The toy family's one task, ``toy_echo``: repeat the previous step's bits."""

import numpy as np

from diffmem.models.tasks import check_int, check_rng, generator_for, pad_batch


def toy_echo(rng, length=4, width=3):
    """inputs [T, width] random bits, targets the bits of the step before (zero first),
    every step masked in."""
    check_rng(rng)
    length, width = check_int("length", length, 1), check_int("width", width, 1)
    inputs = rng.integers(0, 2, size=(length, width)).astype(np.float64)
    targets = np.concatenate([np.zeros((1, width)), inputs[:-1]])
    return inputs, targets, np.ones(length)


TASKS = {"toy_echo": toy_echo}
KNOBS = {"toy_echo": "length"}


def task_sizes(name, **options):
    generator_for(TASKS, name, options)
    width = options.get("width", 3)
    return width, width


def make_batch(name, rng, batch_size, lo, hi, **options):
    generator = generator_for(TASKS, name, options)
    lo, hi = check_int("lo", lo, 1), check_int("hi", hi, 1)
    return pad_batch([generator(rng, length=int(rng.integers(lo, hi + 1)), **options)
                      for _ in range(check_int("batch_size", batch_size, 1))])
