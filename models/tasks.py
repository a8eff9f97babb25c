"""What every family's tasks share (TASKS.md's rules): argument checks that name the
argument and its allowed range, one-hot codes, and zero-padded batches of sequences of
different lengths.  Each family's ``tasks/`` keeps its own generators and registry.
"""

import inspect
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


def one_hot(indices, width):
    """Rows of the identity: [len(indices), width] float64."""
    indices = np.asarray(indices, dtype=np.int64)
    out = np.zeros((len(indices), width))
    out[np.arange(len(indices)), indices] = 1.0
    return out


def pad_batch(sequences):
    """Stack (inputs [T, X], targets [T, Y], mask [T]) triples of different T.

    Returns inputs [B, Tmax, X], targets [B, Tmax, Y], mask [B, Tmax] (float64) and
    lengths [B] (int64, each sequence's T).  Padding goes at the end and is all zero,
    mask included: a causal model's earlier steps cannot see it and the loss ignores it.
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_batch: expected at least one (inputs, targets, mask), got none")
    if any(not isinstance(seq, (tuple, list)) or len(seq) != 3 for seq in sequences):
        raise ValueError("pad_batch: expected (inputs, targets, mask) triples")
    arrays = [tuple(np.asarray(a, dtype=np.float64) for a in seq) for seq in sequences]
    X, Y = (a.shape[1] if a.ndim == 2 else "X" for a in arrays[0][:2])
    for b, (inputs, targets, mask) in enumerate(arrays):
        T = mask.shape[0] if mask.ndim == 1 else -1
        if T < 1 or inputs.shape != (T, X) or targets.shape != (T, Y):
            raise ValueError(f"pad_batch: sequence {b}: expected inputs [T, {X}], "
                             f"targets [T, {Y}], mask [T] with T >= 1 (X, Y as in "
                             f"sequence 0); got {inputs.shape}, {targets.shape}, {mask.shape}")
    lengths = np.array([len(mask) for _, _, mask in arrays], dtype=np.int64)
    B, Tmax = len(arrays), int(lengths.max())
    inputs, targets, mask = np.zeros((B, Tmax, X)), np.zeros((B, Tmax, Y)), np.zeros((B, Tmax))
    for b, (x, z, m) in enumerate(arrays):
        inputs[b, :len(m)], targets[b, :len(m)], mask[b, :len(m)] = x, z, m
    return inputs, targets, mask, lengths


def generator_for(tasks, name, options):
    """The generator of task ``name`` in a family's ``tasks`` (name -> generator), after
    checking that ``options`` are among its keyword arguments."""
    if name not in tasks:
        raise ValueError(f"task: expected one of {sorted(tasks)}, got {name!r}")
    generator = tasks[name]
    allowed = set(inspect.signature(generator).parameters) - {"rng"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {unknown}; expected some of "
                         f"{sorted(allowed)}")
    return generator



def fit_case_data(inputs, targets, mask, *, pad_to, task, options, sizes, expected, who):
    """A fixture case's task batch made to fit its config: ``inputs`` [B, T, X],
    ``targets`` [B, T, Y] and ``mask`` [B, T] zero-padded at the end to ``pad_to`` steps
    (None: left as they are; one shape per case family means one compile), after which the
    task's ``sizes`` (X, Y) must be the config's ``expected`` (X, Y).

    ``task`` and ``options`` only name the data in the error; ``who`` starts it (the
    catalogue's name).  Returns ``(inputs, targets, mask)``; a mismatch is a ValueError.
    """
    if pad_to is not None:
        T = inputs.shape[1]
        if T > pad_to:
            raise ValueError(f"{who}: data of T = {T} does not fit pad_to = {pad_to}")
        pad = ((0, 0), (0, pad_to - T))
        inputs, targets = np.pad(inputs, pad + ((0, 0),)), np.pad(targets, pad + ((0, 0),))
        mask = np.pad(mask, pad)
    (X, Y), (want_X, want_Y) = sizes, expected
    if (X, Y) != (want_X, want_Y):
        raise ValueError(f"{who}: task {task} with {options} gives X={X}, Y={Y}; "
                         f"the config has X={want_X}, Y={want_Y}")
    return inputs, targets, mask
