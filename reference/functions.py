"""The elementwise and normalising functions of NTM.md, in their stable forms.

Written with ``autograd.numpy`` so that the same code runs on plain arrays (values)
and under ``autograd`` (gradients), in float64 or float32: constants are Python
floats, which numpy treats as "weak" and never widen a float32 array.
"""

import autograd.numpy as np
from autograd.tracer import getval


def sigmoid(z):
    # tanh form: no overflow for any z, and exactly 0.5 at 0.
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def softplus(z):
    """max(z, 0) + log1p(exp(-|z|)): NTM.md's stable form."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def softmax(z, axis=-1):
    # Subtracting the max is exact in value and constant in z's gradient, so it is
    # taken outside autograd (getval): the same numbers, fewer backward operations.
    shifted = z - np.max(getval(z), axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)
