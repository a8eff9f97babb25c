"""Coarse and fine accuracy (Grefenstette et al. 2015, section 4.3).

    coarse = #correct / #seqs
    fine   = (1 / #seqs) * SUM_i #correct_i / |target_i|

#correct: sequences whose whole target (``</s>`` included) is predicted; #correct_i: the
symbols of sequence i predicted right before its first error; |target_i|: its target
length with ``</s>``.  Here the target part of a sequence is its masked steps (mask 1),
in time order, and a step is right when argmax(logits) == argmax(targets) (numpy's
argmax: the first index among equal maxima).  With the teacher-forced layout of
``transduction.py`` these equal the paper's greedy-decoding scores (see there).

Arrays: logits and targets [B, T, Y], mask [B, T] (ragged, zero-padded as
``registry.make_batch`` makes them), or one sequence as [T, Y], [T, Y], [T].
"""

import numpy as np


def _right_steps(logits, targets, mask):
    """(right [B, T] bool, mask [B, T] bool) after checking shapes and the mask."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    mask = np.asarray(mask, dtype=np.float64)
    if logits.ndim == 2:
        logits, targets, mask = logits[None], targets[None], mask[None]
    if logits.ndim != 3 or targets.shape != logits.shape or mask.shape != logits.shape[:2]:
        raise ValueError(f"accuracy: expected logits [B, T, Y], targets [B, T, Y] and mask "
                         f"[B, T] (or [T, Y], [T, Y], [T]); got {np.shape(logits)}, "
                         f"{np.shape(targets)}, {np.shape(mask)}")
    if not np.isin(mask, (0.0, 1.0)).all():
        raise ValueError("mask: expected only 0s and 1s")
    empty = np.flatnonzero(mask.sum(axis=1) == 0)
    if empty.size:
        raise ValueError(f"mask: sequence {int(empty[0])} has no target step (mask all 0)")
    right = logits.argmax(axis=-1) == targets.argmax(axis=-1)
    return right, mask.astype(bool)


def coarse(logits, targets, mask):
    """Fraction of sequences whose every masked step is predicted right."""
    right, mask = _right_steps(logits, targets, mask)
    return float(np.mean(np.all(right | ~mask, axis=1)))


def fine(logits, targets, mask):
    """Mean over sequences of (masked steps right before the first wrong one) / (masked steps)."""
    right, mask = _right_steps(logits, targets, mask)
    # 1 until the first masked step that is wrong, 0 from there on.
    unbroken = np.cumprod(right | ~mask, axis=1)
    before_first_error = (unbroken * mask).sum(axis=1)
    return float(np.mean(before_first_error / mask.sum(axis=1)))
