"""The elementwise and normalising functions of NTM.md, in their stable forms.

Written with ``autograd.numpy`` so that the same code runs on plain arrays (values)
and under ``autograd`` (gradients), in float64 or float32: constants are Python
floats, which numpy treats as "weak" and never widen a float32 array.  Each is one
autograd node with its VJP beside it (``vjp.py``); the body is the definition.
"""

import autograd.numpy as np
import numpy as onp   # in the VJPs: they are never differentiated themselves
from autograd.tracer import getval

from .precision import matmul, outer
from .vjp import with_vjp


def _linear_vjp(g, y, weight, x, bias):
    # y = W x + b:  gW = g x^T,  gx = W^T g,  gb = g  (products as in ``linear``)
    return outer(g, x), matmul(g, weight), g


@with_vjp(_linear_vjp)
def linear(weight, x, bias):
    """W x + b, W as [out, in] (NTM.md's parameter table, as torch.nn.Linear).
    (``matmul``: ``@``, except in an emulated low-precision mode, precision.py.)"""
    return matmul(weight, x) + bias


def sigmoid_vjp(g, y, z):
    # d/dz 0.5 (tanh(z/2) + 1) = 0.25 / cosh(z/2)^2: no cancellation in the tails
    # (y (1 - y) would be 0 where tanh(z/2) rounds to +-1); the same chain autograd runs.
    return (0.5 * (0.5 * g / onp.cosh(0.5 * z) ** 2),)


@with_vjp(sigmoid_vjp)
def sigmoid(z):
    # tanh form: no overflow for any z, and exactly 0.5 at 0.
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def softplus_vjp(g, y, z):
    # d/dz softplus = sigmoid(z), written with e = exp(-|z|) <= 1 so nothing overflows:
    # 1 / (1 + e) for z >= 0 and e / (1 + e) for z < 0.
    e = onp.exp(-onp.abs(z))
    return (g * onp.where(z >= 0, 1.0, e) / (1.0 + e),)


@with_vjp(softplus_vjp)
def softplus(z):
    """max(z, 0) + log1p(exp(-|z|)): NTM.md's stable form."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def softmax_vjp(g, y, z, axis=-1):
    # Jacobian diag(y) - y y^T, i.e. g -> y (g - <g, y>), applied as e (g/s - <g, e>/s^2)
    # with e = exp(z - max z), s = sum(e): the order of operations autograd runs through
    # e / s, so gradients match the composed softmax to rounding even where y is one-hot
    # and g - <g, y> cancels.
    e = onp.exp(z - onp.max(z, axis=axis, keepdims=True))
    s = onp.sum(e, axis=axis, keepdims=True)
    return (e * (g / s + onp.sum(-g * e / s ** 2, axis=axis, keepdims=True)),)


@with_vjp(softmax_vjp)
def softmax(z, axis=-1):
    # Subtracting the max is exact in value and constant in z's gradient, so it is
    # taken outside autograd (getval): the same numbers, fewer backward operations.
    shifted = z - np.max(getval(z), axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)
