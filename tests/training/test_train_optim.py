"""The optimizers against updates computed by hand on a two-element parameter."""

import math

import numpy as np
import pytest

from diffmem.training.optim import Adam, RMSPropGraves, make_optimizer


def test_rmsprop_graves_two_steps_by_hand():
    w0 = {"w": np.array([1.0, -2.0])}
    opt = RMSPropGraves(w0, lr=0.1, momentum=0.5, decay=0.9, epsilon=0.01, clip=10.0)
    g1, g2 = np.array([3.0, 20.0]), np.array([-1.0, 0.5])  # 20 is clipped to 10
    w1 = opt.step(w0, {"w": g1})
    w2 = opt.step(w1, {"w": g2})
    # By hand, element 0: step 1: n = 0.1*9 = 0.9, g = 0.3, D = -0.1*3/sqrt(0.9-0.09+0.01)
    d1 = -0.1 * 3 / math.sqrt(0.82)
    assert w1["w"][0] == pytest.approx(1.0 + d1, rel=1e-12)
    # step 2: n = 0.81 + 0.1 = 0.91, g = 0.27 - 0.1 = 0.17, D = 0.5*d1 + 0.1/sqrt(0.91-0.0289+0.01)
    d2 = 0.5 * d1 + 0.1 / math.sqrt(0.91 - 0.17 ** 2 + 0.01)
    assert w2["w"][0] == pytest.approx(1.0 + d1 + d2, rel=1e-12)
    # Element 1 saw the clipped 10: n = 10, g = 1, D = -0.1*10/sqrt(10 - 1 + 0.01)
    assert w1["w"][1] == pytest.approx(-2.0 - 1.0 / math.sqrt(9.01), rel=1e-12)
    assert w0["w"].tolist() == [1.0, -2.0]  # inputs untouched


def test_adam_first_step_is_lr_times_sign():
    w0 = {"w": np.array([0.5, 0.5, 0.5])}
    opt = Adam(w0, lr=0.01)
    w1 = opt.step(w0, {"w": np.array([2.0, -0.003, 50.0])})
    # Bias-corrected first step: m_hat/sqrt(v_hat) = g/|g| (epsilon negligible).
    np.testing.assert_allclose(w1["w"], [0.49, 0.51, 0.49], rtol=1e-6)


def test_state_round_trip_continues_identically():
    w = {"a": np.arange(3.0), "b": np.ones((2, 2))}
    grads = [{"a": np.array([1.0, -2, 3]), "b": np.full((2, 2), 0.5)},
             {"a": np.array([0.1, 0.2, -0.3]), "b": np.full((2, 2), -1.0)}]
    opt = make_optimizer("rmsprop", w)
    w1 = opt.step(w, grads[0])
    saved = {k: v.copy() for k, v in opt.state_arrays().items()}
    expected = opt.step(w1, grads[1])
    fresh = make_optimizer("rmsprop", w)
    fresh.load_state(saved)
    assert fresh.t == 1
    got = fresh.step(w1, grads[1])
    for k in w:
        np.testing.assert_array_equal(got[k], expected[k])


def test_bad_optimizer_and_lr():
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("sgd", {"w": np.zeros(1)})
    with pytest.raises(ValueError, match="lr"):
        make_optimizer("adam", {"w": np.zeros(1)}, lr=-1.0)
