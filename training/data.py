"""The bridge to the families' task registries: one registry of every trainable task.

A task name picks its family: each family's training hook (``FAMILY.training``) lists
the tasks it trains (``TASKS``), and the names are unique across families (NTM ``copy``,
stack ``sequence_copy``, Stack-RNN ``anbn``, ...), except that a family may also train
another family's tasks through that family's task code (``SHARED_TASKS``: the DNC trains
the NTM's copy).  A shared name alone means its own family; ``family=`` (``diffmem train
--family``) picks another that trains it.  Batches, sizes and the knob that --lo/--hi
draw come from the picked family's ``tasks`` package.
"""

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=None)
def _registry():
    """task name -> (its own Family, every Family that trains it), over every registered
    family with a training hook."""
    from diffmem.models import families
    trained = [fam for fam in families().values() if fam.training is not None]
    own = {}
    for fam in trained:
        for task in fam.training.TASKS:
            if task in fam.training.SHARED_TASKS:
                continue
            if task in own:
                raise RuntimeError(f"task {task!r} is claimed by families {own[task].name!r} "
                                   f"and {fam.name!r}; task names must be unique")
            own[task] = fam
    out = {task: (fam, [fam]) for task, fam in own.items()}
    for fam in trained:
        for task in fam.training.SHARED_TASKS:
            if task not in own:
                raise RuntimeError(f"family {fam.name!r} shares task {task!r}, which no "
                                   f"family trains as its own")
            out[task][1].append(fam)
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


def families_of(task):
    """The names of the families that train ``task``, its own first."""
    if task not in _registry():
        return ()
    return tuple(fam.name for fam in _registry()[task][1])


def family_of(task, family=None):
    """The ``Family`` that trains ``task``: its own, or ``family`` (a family name) when
    given; ValueError naming the known tasks, or the families that train it."""
    known = _registry()
    if task not in known:
        raise ValueError(f"task: expected one of {', '.join(known)}, got {task!r}")
    own, trainers = known[task]
    if family is None:
        return own
    for fam in trainers:
        if fam.name == family:
            return fam
    raise ValueError(f"family: {task} is trained by {', '.join(f.name for f in trainers)}, "
                     f"not {family!r}")


def hook(task, family=None):
    """The training hook of the task's family."""
    return family_of(task, family).training


def knob(task, family=None):
    """The option --lo/--hi draw for ``task`` ('length', 'n_items', 'n')."""
    return family_of(task, family).tasks.knob(task)


def generator(task, family=None):
    return family_of(task, family).tasks.generators[task]


def sizes(task, options, family=None):
    """(X, Y) of a task with these options."""
    return family_of(task, family).tasks.sizes(task, **options)


def batch(task, rng, batch_size, lo, hi, options, family=None):
    """inputs [B, T, X], targets [B, T, Y], mask [B, T] as float64 arrays."""
    inputs, targets, mask, _ = family_of(task, family).tasks.make_batch(
        task, rng, batch_size, lo, hi, **options)
    return (np.asarray(inputs, np.float64), np.asarray(targets, np.float64),
            np.asarray(mask, np.float64))


def model_family(model):
    """The name of a loaded model file's family (from its config)."""
    from diffmem.models import bind
    return bind(model.config).family.name


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
