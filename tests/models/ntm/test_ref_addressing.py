"""Addressing and memory properties of NTM.md steps 5-7, checked on the reference.

Every expected value here follows from the spec's equations (numpy.roll, the gate's
two ends, gamma = 1, commutativity of the erase product), not from the reference.
"""

import numpy as np
import pytest
from autograd import grad

from diffmem.models.ntm.reference import NTMConfig, init_params, run_sequence
from diffmem.models.ntm.reference.addressing import (EPS, content_weights, gated_weights,
                                          sharpened_weights, shifted_weights)
from diffmem.models.ntm.reference.memory import write_memory

STAGES = ("w_content", "w_gated", "w_shifted", "weight")
WIDE = (-2, -1, 0, 1, 2)


def simplex(rng, heads, N):
    w = rng.uniform(0.0, 1.0, (heads, N))
    return w / w.sum(axis=-1, keepdims=True)


def run(cfg, regime="init", T=5, seed=0, **overrides):
    params = init_params(cfg, seed, regime)
    params.update(overrides)
    rng = np.random.default_rng(seed)
    return run_sequence(cfg, params, rng.standard_normal((T, cfg.X)),
                        rng.uniform(0, 1, (T, cfg.Y)), np.ones(T))


CONFIGS = {
    "ff": (NTMConfig(3, 2, 6, 6, 3), "init"),
    "lstm-2r2w-wide": (NTMConfig(3, 2, 6, 5, 3, 2, 2, WIDE, "lstm"), "init"),
    "sharp": (NTMConfig(3, 2, 6, 6, 3, 2, 2), "sharp"),
    "N1-wide": (NTMConfig(3, 2, 6, 1, 3, shifts=WIDE), "init"),
    "N2-wide": (NTMConfig(3, 2, 6, 2, 3, 2, 1, WIDE, "lstm"), "sharp"),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_weights_are_distributions_at_every_stage(name):
    cfg, regime = CONFIGS[name]
    trace = run(cfg, regime)["trace"]
    for kind in ("write", "read"):
        for stage in STAGES + ("shift",):
            w = trace[f"{kind}.{stage}"]
            assert np.all(w >= 0), f"{kind}.{stage}: negative entry {w.min()}"
            sums = w.sum(axis=-1)
            worst = np.max(np.abs(sums - 1.0))
            assert worst <= 1e-12, f"{kind}.{stage}: sums differ from 1 by {worst:.2e} > 1e-12"
        assert np.all(trace[f"{kind}.gamma"] >= 1.0) and np.all(trace[f"{kind}.beta"] >= 0.0)


@pytest.mark.parametrize("N", [1, 2, 3, 7])
@pytest.mark.parametrize("offset", WIDE)
def test_one_hot_shift_is_numpy_roll(N, offset):
    rng = np.random.default_rng(N)
    w = simplex(rng, 2, N)
    s = np.zeros((2, len(WIDE)))
    s[:, WIDE.index(offset)] = 1.0
    got = shifted_weights(w, s, WIDE)
    # np.roll(w, +1)[i] = w[i - 1]: the documented direction, +1 moves row i -> i+1
    assert np.array_equal(got, np.roll(w, offset, axis=-1)), (got, w)


def test_plus_one_moves_focus_from_row_i_to_row_i_plus_1():
    w = np.zeros((1, 5))
    w[0, 3] = 1.0
    moved = shifted_weights(w, np.array([[0.0, 0.0, 1.0]]), (-1, 0, 1))
    assert moved[0, 4] == 1.0
    wrapped = shifted_weights(moved, np.array([[0.0, 0.0, 1.0]]), (-1, 0, 1))
    assert wrapped[0, 0] == 1.0, "offset +1 from the last row wraps to row 0"


def test_small_N_adds_the_offsets_that_wrap_onto_the_same_row():
    rng = np.random.default_rng(3)
    s = simplex(rng, 1, len(WIDE))[0]         # s over (-2, -1, 0, 1, 2)
    w = simplex(rng, 1, 2)
    got = shifted_weights(w, s[None], WIDE)[0]
    # N = 2: offsets -2, 0, 2 map a row onto itself; -1 and 1 swap the rows
    stay, swap = s[0] + s[2] + s[4], s[1] + s[3]
    expected = [stay * w[0, 0] + swap * w[0, 1], stay * w[0, 1] + swap * w[0, 0]]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    # N = 1: every offset lands on the only row
    assert shifted_weights(np.ones((1, 1)), s[None], WIDE)[0, 0] == pytest.approx(s.sum(),
                                                                                rel=1e-15)


def test_gamma_one_changes_nothing_up_to_eps():
    rng = np.random.default_rng(4)
    for N in (1, 2, 9):
        w = simplex(rng, 3, N)
        if N > 1:                              # an exact zero stays near zero
            w[0, 0] = 0.0
            w[0] /= w[0].sum()
        got = sharpened_weights(w, np.ones(3))
        # (w + EPS) / (1 + N EPS): within N EPS of w, plus a few ulp of rounding
        worst = np.max(np.abs(got - w))
        assert worst <= 4 * (N + 1) * EPS, f"N={N}: gamma=1 moved a weight by {worst:.2e}"


def test_gate_one_selects_content_and_gate_zero_the_previous_weight():
    rng = np.random.default_rng(5)
    w_content, w_prev = simplex(rng, 2, 6), simplex(rng, 2, 6)
    assert np.array_equal(gated_weights(w_content, np.ones(2), w_prev), w_content)
    assert np.array_equal(gated_weights(w_content, np.zeros(2), w_prev), w_prev)
    mixed = gated_weights(w_content, np.array([1.0, 0.0]), w_prev)
    assert np.array_equal(mixed[0], w_content[0]) and np.array_equal(mixed[1], w_prev[1])


def test_content_weights_follow_cosine_similarity():
    # A key parallel to row 2 (any length) and strength beta: row 2 gets the most weight,
    # and with beta = 0 the weighting is uniform.
    rng = np.random.default_rng(6)
    memory = rng.standard_normal((5, 4))
    key = 3.0 * memory[2][None]
    w = content_weights(key, np.array([50.0]), memory)
    assert np.argmax(w[0]) == 2
    uniform = content_weights(key, np.array([0.0]), memory)
    np.testing.assert_allclose(uniform, np.full((1, 5), 0.2), rtol=1e-15)


def test_write_memory_is_independent_of_head_order():
    rng = np.random.default_rng(7)
    memory = rng.standard_normal((6, 4))
    weight, erase = simplex(rng, 3, 6), rng.uniform(0, 1, (3, 4))
    add = rng.uniform(-1, 1, (3, 4))
    base = write_memory(memory, weight, erase, add)
    # the spec's equation written with explicit loops over rows, columns and heads
    expected = np.empty_like(memory)
    for i in range(6):
        for m in range(4):
            keep = 1.0
            for h in range(3):
                keep *= 1.0 - weight[h, i] * erase[h, m]
            expected[i, m] = memory[i, m] * keep + sum(weight[h, i] * add[h, m]
                                                       for h in range(3))
    np.testing.assert_allclose(base, expected, rtol=1e-14, atol=1e-15)
    for order in ([2, 1, 0], [1, 0, 2], [0, 2, 1]):
        permuted = write_memory(memory, weight[order], erase[order], add[order])
        np.testing.assert_allclose(permuted, base, rtol=1e-14, atol=1e-15,
                                   err_msg=f"head order {order}")


def test_one_hot_weight_with_erase_one_has_a_finite_gradient():
    # np.prod's VJP divides by each factor; the reference's loop must not (memory.py).
    memory = np.ones((3, 2))
    weight = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    erase = np.ones((2, 2))
    add = np.zeros((2, 2))
    g = grad(lambda e: np.sum(write_memory(memory, weight, e, add)))(erase)
    assert np.all(np.isfinite(g)), g
    # d/de_h of prod_h (1 - e_h) at e = 1: -prod_{other} (1 - e) = 0; row 1 only
    np.testing.assert_array_equal(g, np.zeros((2, 2)))


def test_zero_memory_rows_and_zero_keys_give_finite_values_and_gradients():
    memory = np.zeros((4, 3))
    memory[1] = [0.5, -1.0, 2.0]              # one non-zero row among zero rows
    key = np.zeros((2, 3))
    key[1] = [1.0, 0.0, 0.0]
    beta = np.array([2.0, 3.0])

    def f(key, memory):
        return np.sum(content_weights(key, beta, memory) * np.arange(4.0))

    assert np.all(np.isfinite(content_weights(key, beta, memory)))
    for g in (grad(f, 0)(key, memory), grad(f, 1)(key, memory)):
        assert np.all(np.isfinite(g)), g
    # a zero key has cosine 0 with every row: uniform content weights
    np.testing.assert_allclose(content_weights(key, beta, memory)[0], np.full(4, 0.25),
                               rtol=1e-15)


def test_zero_memory_and_zero_keys_through_a_whole_run():
    cfg = NTMConfig(3, 2, 5, 4, 3, 1, 1)
    params = init_params(cfg, 0)
    params["init.memory"] = np.zeros((4, 3))
    # zero the key rows (write key: interface[0:3], read key: interface[15:18])
    for start in (0, 3 * 3 + 3 + 3):
        params["interface.weight"][start:start + 3] = 0.0
        params["interface.bias"][start:start + 3] = 0.0
    out = run(cfg, **{k: params[k] for k in ("init.memory", "interface.weight",
                                             "interface.bias")})
    assert np.all(out["trace"]["write.key"] == 0.0) and np.all(out["trace"]["read.key"] == 0.0)
    assert np.isfinite(out["loss"])
    for name, g in {**out["grads"], "inputs": out["grad_inputs"]}.items():
        assert np.all(np.isfinite(g)), f"grads[{name!r}] not finite"
