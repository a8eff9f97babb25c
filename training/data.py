"""The bridge to the families' task registries: one registry of every trainable task.

A task name picks its family: each family's training hook (``FAMILY.training``) lists
the tasks it trains (``TASKS``), and the names are unique across families (NTM ``copy``,
stack ``sequence_copy``, Stack-RNN ``anbn``, ...).  Batches, sizes and the knob that
--lo/--hi draw come from that family's ``tasks`` package.
"""

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def _registry():
    """task name -> Family, over every registered family with a training hook."""
    from diffmem.models import families
    out = {}
    for fam in families().values():
        if fam.training is None:
            continue
        for task in fam.training.TASKS:
            if task in out:
                raise RuntimeError(f"task {task!r} is claimed by families {out[task].name!r} "
                                   f"and {fam.name!r}; task names must be unique")
            out[task] = fam
    return out


def task_names():
    """Every trainable task, family by family (families in name order)."""
    return tuple(_registry())


def size_flags() -> dict:
    """Every family's size settings and their flags (the argparse ``dest`` is the key),
    family by family; a run keeps only its own family's."""
    from diffmem.models import families
    out = {}
    for fam in families().values():
        if fam.training is not None:
            out.update({k: v for k, v in fam.training.SIZE_FLAGS.items() if k not in out})
    return out


def family_of(task):
    """The ``Family`` that trains ``task``; ValueError naming the known tasks."""
    known = _registry()
    if task not in known:
        raise ValueError(f"task: expected one of {', '.join(known)}, got {task!r}")
    return known[task]


def hook(task):
    """The training hook of the task's family."""
    return family_of(task).training


def knob(task):
    """The option --lo/--hi draw for ``task`` ('length', 'n_items', 'n')."""
    return family_of(task).tasks.knob(task)


def generator(task):
    return family_of(task).tasks.generators[task]


def sizes(task, options):
    """(X, Y) of a task with these options."""
    return family_of(task).tasks.sizes(task, **options)


def batch(task, rng, batch_size, lo, hi, options):
    """inputs [B, T, X], targets [B, T, Y], mask [B, T] as float64 arrays."""
    inputs, targets, mask, _ = family_of(task).tasks.make_batch(task, rng, batch_size, lo, hi,
                                                                **options)
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
