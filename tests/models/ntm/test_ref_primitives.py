"""Each hand-written VJP (reference/vjp.py) against autograd through the plain body
and against finite differences; each primitive's value against the plain body.

``op.composed`` is the plain autograd.numpy body of a named operation.  Where that
body calls another primitive (content_weights calls softmax), the other primitive is
checked here on its own, so the chain of checks covers every hand-written VJP.
"""

import numpy as np
import pytest
from autograd import make_vjp

from diffmem.reference import gradcheck as gc
from diffmem.models.ntm.reference.addressing import (content_weights, gated_weights,
                                          sharpened_weights, shifted_weights)
from diffmem.reference.functions import linear, sigmoid, softmax, softplus
from diffmem.models.ntm.reference.memory import read_memory, write_memory

WIDE = (-2, -1, 0, 1, 2)


def simplex(rng, *shape):
    w = rng.uniform(0.05, 1.0, shape)
    return w / w.sum(axis=-1, keepdims=True)


def cases():
    """name -> (op, args, differentiable argnums, kwargs) on random inputs."""
    rng = np.random.default_rng(0)
    H, N, M = 3, 7, 4
    out = {
        "linear": (linear, (rng.standard_normal((5, 4)), rng.standard_normal(4),
                            rng.standard_normal(5)), (0, 1, 2), {}),
        "sigmoid": (sigmoid, (rng.standard_normal((3, 5)) * 5,), (0,), {}),
        "softplus": (softplus, (np.array([-30.0, -2.0, -0.1, 0.0, 0.1, 2.0, 30.0]),), (0,), {}),
        "softmax": (softmax, (rng.standard_normal((3, 6)) * 3,), (0,), {}),
        "softmax-axis0": (softmax, (rng.standard_normal((4, 3)),), (0,), {"axis": 0}),
        "content_weights": (content_weights, (rng.standard_normal((H, M)),
                                              rng.uniform(0.5, 5.0, H),
                                              rng.standard_normal((N, M))), (0, 1, 2), {}),
        "gated_weights": (gated_weights, (simplex(rng, H, N), rng.uniform(0, 1, H),
                                          simplex(rng, H, N)), (0, 1, 2), {}),
        "sharpened_weights": (sharpened_weights, (simplex(rng, H, N),
                                                  rng.uniform(1.0, 4.0, H)), (0, 1), {}),
        "read_memory": (read_memory, (rng.standard_normal((N, M)), simplex(rng, 2, N)),
                        (0, 1), {}),
    }
    for n in (1, 2, 3, 7):
        out[f"shifted_weights-N{n}"] = (
            lambda w, s, n=n: shifted_weights(w, s, WIDE),
            (simplex(rng, H, n), simplex(rng, H, len(WIDE))), (0, 1), {})
    for heads in (1, 2, 3):
        out[f"write_memory-{heads}heads"] = (
            write_memory, (rng.standard_normal((N, M)), simplex(rng, heads, N),
                           rng.uniform(0, 1, (heads, M)), rng.uniform(-1, 1, (heads, M))),
            (0, 1, 2, 3), {})
    return out


CASES = cases()


def vjp_of(f, args, argnum, g, kwargs):
    def of_one(x):
        return f(*args[:argnum], x, *args[argnum + 1:], **kwargs)
    vjp, _ = make_vjp(of_one)(args[argnum])
    return vjp(g)


def plain(name):
    """The plain body of a case's operation (shifted_weights's case fixes ``shifts``)."""
    op = CASES[name][0]
    if name.startswith("shifted_weights"):
        return lambda w, s, **kw: shifted_weights.composed(w, s, WIDE)
    return op.composed


@pytest.mark.parametrize("name", CASES)
def test_value_is_the_plain_body_bit_for_bit(name):
    op, args, _, kwargs = CASES[name]
    assert np.array_equal(op(*args, **kwargs), plain(name)(*args, **kwargs))


@pytest.mark.parametrize("name", CASES)
def test_vjp_equals_autograd_through_the_plain_body(name):
    op, args, argnums, kwargs = CASES[name]
    rng = np.random.default_rng(1)
    g = rng.standard_normal(np.shape(op(*args, **kwargs)))
    for i in argnums:
        fast = vjp_of(op, args, i, g, kwargs)
        slow = vjp_of(plain(name), args, i, g, kwargs)
        assert fast.shape == slow.shape == np.shape(args[i])
        err = np.max(np.abs(fast - slow)) / max(np.max(np.abs(slow)), 1e-300)
        assert err <= 1e-12, f"{name} argument {i}: relative difference {err:.2e} > 1e-12"


@pytest.mark.parametrize("name", CASES)
def test_vjp_equals_finite_differences(name):
    op, args, argnums, kwargs = CASES[name]
    rng = np.random.default_rng(2)
    g = rng.standard_normal(np.shape(op(*args, **kwargs)))
    for i in argnums:
        def f(x):
            return float(np.sum(g * op(*args[:i], x, *args[i + 1:], **kwargs)))
        grad = vjp_of(op, args, i, g, kwargs)
        check = gc.check_tensor(f, np.array(args[i], dtype=float), grad, f"argument {i}",
                                rng, elements=6, directions=2)
        assert check.worst <= 1e-8, f"{name}: {check.describe()} > 1e-8"


@pytest.mark.parametrize("name", CASES)
def test_float32_in_float32_out(name):
    op, args, argnums, kwargs = CASES[name]
    args32 = tuple(np.asarray(a, dtype=np.float32) for a in args)
    value = op(*args32, **kwargs)
    assert value.dtype == np.float32
    g = np.ones_like(value)
    for i in argnums:
        assert vjp_of(op, args32, i, g, kwargs).dtype == np.float32, f"argument {i}"


def test_tails_of_sigmoid_and_softplus_stay_finite_and_match():
    z = np.array([-800.0, -50.0, -1e-300, 0.0, 1e-300, 50.0, 800.0])
    for op in (sigmoid, softplus):
        with np.errstate(over="ignore"):          # cosh overflows to inf: gradient 0
            fast = vjp_of(op, (z,), 0, np.ones_like(z), {})
            slow = vjp_of(op.composed, (z,), 0, np.ones_like(z), {})
        assert np.all(np.isfinite(fast)), (op.__name__, fast)
        np.testing.assert_allclose(fast, slow, rtol=1e-15, atol=1e-300, err_msg=op.__name__)
    assert vjp_of(softplus, (np.zeros(1),), 0, np.ones(1), {})[0] == 0.5


def test_write_memory_vjp_finite_for_one_hot_weight_and_full_erase():
    memory = np.ones((3, 2))
    weight = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    erase, add = np.ones((2, 2)), np.zeros((2, 2))
    g = np.ones((3, 2))
    for i, arg in enumerate((memory, weight, erase, add)):
        grad = vjp_of(write_memory, (memory, weight, erase, add), i, g, {})
        slow = vjp_of(write_memory.composed, (memory, weight, erase, add), i, g, {})
        assert np.all(np.isfinite(grad)), (i, grad)
        np.testing.assert_allclose(grad, slow, rtol=1e-15, atol=0)
