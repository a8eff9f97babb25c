"""Repeat copy (Graves et al. 2014, section 4.2; TASKS.md "repeat_copy")."""

import numpy as np

from ._common import check_int, check_rng, random_bits


def sizes(*, width=8, **_):
    """(X, Y): data bits + start + repeat-count channels in; data bits + end marker out."""
    width = check_int("width", width, 1)
    return width + 2, width + 1


def repeat_copy(rng, *, width=8, length, repeats, max_repeats=10, normalise=True):
    """Write ``length`` random vectors out ``repeats`` times, then an end marker.

    T = L*(C+1) + 3 with L = length, C = repeats.  Inputs [T, width+2]: step 0 sets the
    start channel (``width``), steps 1..L carry the vectors, step L+1 puts the count on
    the repeat channel (``width+1``): C / max_repeats when ``normalise`` (the paper
    normalises the count so the input stays O(1)), else the raw C.  Targets
    [T, width+1]: C copies back to back on steps L+2..L+1+C*L, then the end-marker
    channel (``width``) alone on the last step.  The mask is 1 on those C*L + 1 steps.
    Batch knob: ``length``; ``make_batch`` draws ``repeats`` from [1, max_repeats]
    per sequence unless it is given.
    """
    check_rng(rng)
    width = check_int("width", width, 1)
    L = check_int("length", length, 1)
    max_repeats = check_int("max_repeats", max_repeats, 1)
    C = check_int("repeats", repeats, 1, max_repeats)
    T = L * (C + 1) + 3
    vectors = random_bits(rng, (L, width))

    inputs = np.zeros((T, width + 2))
    inputs[0, width] = 1.0
    inputs[1:L + 1, :width] = vectors
    inputs[L + 1, width + 1] = C / max_repeats if normalise else C

    targets = np.zeros((T, width + 1))
    targets[L + 2:T - 1, :width] = np.tile(vectors, (C, 1))
    targets[T - 1, width] = 1.0
    mask = np.zeros(T)
    mask[L + 2:] = 1.0
    return inputs, targets, mask
