"""The DNC's tasks (DNC.md "Tasks"): the NTM's copy, repeat copy, associative recall and
priority sort through the NTM's own task code (TASKS.md, ``models/ntm/tasks``), unchanged,
plus the DNC paper's serial copy (Graves et al. 2016, Extended Data Fig. 1, "Dynamic
memory allocation"), and the serial copy's memory-reuse metric read from a trace.

Every generator takes a ``numpy.random.Generator`` first and keyword options, and returns
float64 ``(inputs [T, X], targets [T, Y], mask [T])``.
"""

import numpy as np

from diffmem.models.ntm import tasks as ntm_tasks
from diffmem.models.tasks import check_int, check_rng, generator_for, pad_batch

# The NTM tasks the DNC trains and its fixtures use (dynamic n-grams and random data stay
# available for fixtures through ``TASKS`` too; the training hook picks its own).
SHARED = ("copy", "repeat_copy", "associative_recall", "priority_sort")


def serial_copy_sizes(*, width=6, **_):
    """(X, Y): the copy task's, data bits + start + stop channels in, data bits out."""
    return ntm_tasks.task_sizes("copy", width=check_int("width", width, 1))


def serial_copy(rng, *, width=6, n_seqs, seq_len=5):
    """``n_seqs`` copy episodes back to back, each TASKS.md's copy of ``seq_len`` random
    ``width``-bit vectors (start channel, the vectors, stop channel, then the recall with
    mask 1), drawn by the NTM's ``copy`` generator one after the other.

    X = width + 2, Y = width, T = n_seqs * (2 seq_len + 2).  The paper's setting: 10
    sequences of 5 vectors (50 in all) through a memory of 10 rows, too few to hold them
    all: solved only by freeing rows after reading them and allocating them again.
    Batch knob: ``n_seqs``.
    """
    check_rng(rng)
    width = check_int("width", width, 1)
    n_seqs = check_int("n_seqs", n_seqs, 1)
    seq_len = check_int("seq_len", seq_len, 1)
    episodes = [ntm_tasks.copy(rng, width=width, length=seq_len) for _ in range(n_seqs)]
    inputs, targets, mask = (np.concatenate(parts) for parts in zip(*episodes))
    return inputs, targets, mask


def episode_length(seq_len):
    """Steps of one serial-copy episode: TASKS.md's copy of ``seq_len`` vectors."""
    return 2 * check_int("seq_len", seq_len, 1) + 2


def rows_written(write_weight, n_seqs, seq_len, threshold=0.5):
    """Distinct memory rows written in each serial-copy episode, from one sequence's trace.

    ``write_weight``: the trace's ``write.weight`` of one sequence, [T, 1, N] (or [T, N]),
    T >= n_seqs * (2 seq_len + 2) (padding after it is ignored).  A row counts as written
    in an episode when its write weighting exceeds ``threshold`` at some step of it (DNC.md
    "Tasks": ww > 0.5).  Returns ``(per_episode, total)``: a list of ``n_seqs`` counts and
    the number of distinct rows written over the whole sequence.  A DNC that reuses memory
    writes each episode's ``seq_len`` vectors into ``seq_len`` rows while ``total`` stays
    at most N: the sum of ``per_episode`` exceeds ``total`` by the rows used again.
    """
    ww = np.asarray(write_weight, dtype=np.float64)
    if ww.ndim == 3:
        if ww.shape[1] != 1:
            raise ValueError(f"write_weight: expected [T, 1, N] (one write head), got "
                             f"{list(ww.shape)}")
        ww = ww[:, 0]
    if ww.ndim != 2:
        raise ValueError(f"write_weight: expected [T, 1, N] or [T, N], got {list(ww.shape)}")
    n_seqs = check_int("n_seqs", n_seqs, 1)
    step = episode_length(seq_len)
    if ww.shape[0] < n_seqs * step:
        raise ValueError(f"write_weight: {ww.shape[0]} steps, expected at least "
                         f"n_seqs * (2 seq_len + 2) = {n_seqs * step}")
    written = ww[:n_seqs * step] > threshold                    # [T, N]
    per_episode = written.reshape(n_seqs, step, -1).any(axis=1)  # [n_seqs, N]
    return [int(n) for n in per_episode.sum(axis=1)], int(per_episode.any(axis=0).sum())


TASKS = {**{name: ntm_tasks.TASKS[name] for name in SHARED + ("dynamic_ngrams", "random")},
         "serial_copy": serial_copy}
KNOBS = {**{name: ntm_tasks.KNOBS[name] for name in TASKS if name != "serial_copy"},
         "serial_copy": "n_seqs"}


def task_sizes(name, **options):
    """(X, Y) of task ``name`` with these options (the NTM's for its tasks)."""
    generator_for(TASKS, name, options)
    if name == "serial_copy":
        return serial_copy_sizes(**options)
    return ntm_tasks.task_sizes(name, **options)


def make_batch(name, rng, batch_size, lo, hi, **options):
    """``batch_size`` sequences of task ``name``, its knob (``KNOBS``) drawn uniformly from
    [lo, hi] per sequence: the NTM's ``make_batch`` for its tasks; serial copy draws
    ``n_seqs`` the same way.  Returns ``pad_batch``'s (inputs, targets, mask, lengths)."""
    generator = generator_for(TASKS, name, options)
    if name != "serial_copy":
        return ntm_tasks.make_batch(name, rng, batch_size, lo, hi, **options)
    check_rng(rng)
    if "n_seqs" in options:
        raise ValueError("serial_copy: 'n_seqs' is drawn from [lo, hi] by make_batch; "
                         "do not pass it as an option")
    batch_size = check_int("batch_size", batch_size, 1)
    lo = check_int("lo", lo, 1)
    hi = check_int("hi", hi, lo)
    return pad_batch(generator(rng, n_seqs=int(rng.integers(lo, hi + 1)), **options)
                     for _ in range(batch_size))
