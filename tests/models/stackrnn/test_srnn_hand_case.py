"""A three-step Stack-RNN worked by hand (V=2, H=2, K=1, D=3, k=2, push/pop).

Parameters chosen so every pre-activation is a short sum of small integers and sigmoids:
    U = [[1, -1], [0, 2]]   R = [[1, 0], [0, -1]]   P_0 = I (h reads s[0], s[1])
    A_0 = [[1, -1], [-1, 1]] (push score h0 - h1, pop score h1 - h0, so
          a_push = e^(h0-h1) / (e^(h0-h1) + e^(h1-h0)) = sig(2 (h0 - h1)))
    D_0 = [2, 0], bias.push = -1 (p = sig(2 h0 - 1))     V = I (logits = h)
    all other biases 0.
Inputs x = a, b, b (one-hot [1,0], [0,1], [0,1]); targets b, b, a; mask 1, 1, 1.
"""

import math

import numpy as np
import pytest

from diffmem.models.stackrnn.config import StackRNNConfig
from diffmem.models.stackrnn.reference import run_batch

sig = lambda z: 1.0 / (1.0 + math.exp(-z))

CFG = StackRNNConfig(alphabet_size=2, hidden_size=2, stacks=1, depth=3, top_k=2)
PARAMS = {
    "U": np.array([[1.0, -1.0], [0.0, 2.0]]),
    "R": np.array([[1.0, 0.0], [0.0, -1.0]]),
    "P": np.array([[[1.0, 0.0], [0.0, 1.0]]]),
    "bias.hidden": np.zeros(2),
    "A": np.array([[[1.0, -1.0], [-1.0, 1.0]]]),
    "bias.action": np.zeros((1, 2)),
    "D": np.array([[2.0, 0.0]]),
    "bias.push": np.array([-1.0]),
    "V": np.eye(2),
    "bias.output": np.zeros(2),
}
X = np.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
Y = np.array([[[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]]])
M = np.ones((1, 3))


def by_hand():
    E = -1.0    # EMPTY
    # step 1: h_0 = (0, 0), s_0 = (E, E, E)
    #   z = U x + R h_0 + (s0[0], s0[1]) = (1, 0) + (0, 0) + (-1, -1) = (0, -1)
    h1 = (sig(0.0), sig(-1.0))                      # (0.5, 0.2689)
    a1 = sig(2 * (h1[0] - h1[1]))                   # a_push; a_pop = 1 - a1
    p1 = sig(2 * h1[0] - 1)                         # sig(0) = 0.5
    s1 = (a1 * p1 + (1 - a1) * E,                   # push writes p, pop lifts s0[1]
          a1 * E + (1 - a1) * E,                    # = -1
          a1 * E + (1 - a1) * E)                    # bottom: pop pulls in EMPTY = -1
    # step 2: x = b: U x = (-1, 2); R h1 = (h1[0], -h1[1]); reads (s1[0], s1[1])
    h2 = (sig(-1 + h1[0] + s1[0]), sig(2 - h1[1] + s1[1]))
    a2 = sig(2 * (h2[0] - h2[1]))
    p2 = sig(2 * h2[0] - 1)
    s2 = (a2 * p2 + (1 - a2) * s1[1],
          a2 * s1[0] + (1 - a2) * s1[2],
          a2 * s1[1] + (1 - a2) * E)
    # step 3: x = b again
    h3 = (sig(-1 + h2[0] + s2[0]), sig(2 - h2[1] + s2[1]))
    a3 = sig(2 * (h3[0] - h3[1]))
    p3 = sig(2 * h3[0] - 1)
    s3 = (a3 * p3 + (1 - a3) * s2[1],
          a3 * s2[0] + (1 - a3) * s2[2],
          a3 * s2[1] + (1 - a3) * E)
    # loss: logits = h; cross-entropy logsumexp(h) - h[target]; targets b, b, a
    lse = lambda h: math.log(math.exp(h[0]) + math.exp(h[1]))
    loss = (lse(h1) - h1[1]) + (lse(h2) - h2[1]) + (lse(h3) - h3[0])
    return {"hidden": [h1, h2, h3], "push": [a1, a2, a3], "push_value": [p1, p2, p3],
            "stack": [s1, s2, s3], "loss": loss}


def test_hand_worked_three_steps():
    want = by_hand()
    got = run_batch(CFG, PARAMS, X, Y, M, want_grads=False)
    tr = got["trace"]
    np.testing.assert_allclose(tr["hidden"][0], want["hidden"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(tr["logits"][0], want["hidden"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(tr["action"][0, :, 0, 0], want["push"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(tr["action"][0, :, 0, 1], 1 - np.array(want["push"]),
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(tr["push_value"][0, :, 0], want["push_value"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(tr["stack"][0, :, 0], want["stack"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(got["loss"], [want["loss"]], rtol=0, atol=1e-13)


def test_hand_worked_empty_is_pulled_in():
    # Step 1's first values, exactly: h1 = (0.5, sig(-1)), p1 = 0.5, and the rows below
    # the top stay exactly EMPTY = -1 (push moves -1 down, pop pulls -1 in).
    tr = run_batch(CFG, PARAMS, X, Y, M, want_grads=False)["trace"]
    assert tr["hidden"][0, 0, 0] == 0.5
    assert tr["push_value"][0, 0, 0] == 0.5
    assert tr["stack"][0, 0, 0, 1] == -1.0 and tr["stack"][0, 0, 0, 2] == -1.0
    # At step 3 the bottom row is a_push * s2[1] + a_pop * EMPTY: the -a_pop part is
    # there (with EMPTY = 0 it would be missing).
    want = by_hand()
    a3, s2 = want["push"][2], want["stack"][1]
    assert abs(tr["stack"][0, 2, 0, 2] - (a3 * s2[1] - (1 - a3))) < 1e-14
    assert abs(tr["stack"][0, 2, 0, 2] - a3 * s2[1]) > 0.1


@pytest.mark.parametrize("dtype", ["float32"])
def test_hand_case_float32_close(dtype):
    want = by_hand()
    got = run_batch(CFG, PARAMS, X, Y, M, dtype=dtype)
    assert got["logits"].dtype == np.float32 and got["grads"]["P"].dtype == np.float32
    assert abs(float(got["loss"][0]) - want["loss"]) < 1e-5
