"""The bridge to ``diffmem.models.ntm.tasks``: batches and sizes for a task name and its options."""

import numpy as np


def task_names():
    from diffmem.models.ntm.tasks import TASKS
    return tuple(name for name in TASKS if name != "random")


def sizes(task, options):
    """(X, Y) of a task with these options."""
    from diffmem.models.ntm.tasks import task_sizes
    return task_sizes(task, **options)


def batch(task, rng, batch_size, lo, hi, options):
    """inputs [B, T, X], targets [B, T, Y], mask [B, T] as float64 arrays."""
    from diffmem.models.ntm.tasks import make_batch
    inputs, targets, mask, _ = make_batch(task, rng, batch_size, lo, hi, **options)
    return (np.asarray(inputs, np.float64), np.asarray(targets, np.float64),
            np.asarray(mask, np.float64))


def parse_options(items):
    """['width=8', 'max_repeats=10'] -> {'width': 8, 'max_repeats': 10} (ints, floats,
    true/false, else strings)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option: expected KEY=VALUE, got {item!r}")
        for convert in (int, float):
            try:
                out[key] = convert(value)
                break
            except ValueError:
                continue
        else:
            out[key] = {"true": True, "false": False}.get(value.lower(), value)
    return out
