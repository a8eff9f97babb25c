"""Copy (Graves et al. 2014, section 4.1; TASKS.md "copy")."""

import numpy as np

from ._common import check_int, check_rng, random_bits


def sizes(*, width=8, **_):
    """(X, Y): data bits + start + stop channels in, data bits out."""
    width = check_int("width", width, 1)
    return width + 2, width


def copy(rng, *, width=8, length):
    """Copy ``length`` random ``width``-bit vectors after seeing them once.

    T = 2*length + 2.  Inputs [T, width+2]: step 0 sets the start channel (``width``),
    steps 1..L carry the vectors, step L+1 sets the stop channel (``width+1``), steps
    L+2..2L+1 are zero.  Targets [T, width]: the vectors again, in order, on steps
    L+2..2L+1, where the mask is 1 (0 elsewhere).  Batch knob: ``length``.
    """
    check_rng(rng)
    width = check_int("width", width, 1)
    L = check_int("length", length, 1)
    T = 2 * L + 2
    vectors = random_bits(rng, (L, width))

    inputs = np.zeros((T, width + 2))
    inputs[0, width] = 1.0
    inputs[1:L + 1, :width] = vectors
    inputs[L + 1, width + 1] = 1.0

    targets = np.zeros((T, width))
    targets[L + 2:] = vectors
    mask = np.zeros(T)
    mask[L + 2:] = 1.0
    return inputs, targets, mask
