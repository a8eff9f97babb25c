"""The DNC reference (dnc/1): central finite differences away from ties, the hand-worked
tie cases of DNC.md "Gradients" (the stable order decides value and derivative, products
are differentiated as products, the link diagonal is a constant), oneplus at 0, the
config and the layout."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, jacobian

from diffmem.models.dnc import FAMILY, reference as R
from diffmem.models.dnc.config import DNCConfig
from diffmem.models.dnc.layout import (interface_fields, param_shapes, split_interface,
                                       trace_entries, trace_shapes)
from diffmem.models.dnc.params import REGIMES, init_params


def _data(cfg, B, T, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, cfg.X))
    if cfg.loss == "bce":
        y = (rng.uniform(size=(B, T, cfg.Y)) < 0.5).astype(float)
    else:
        y = np.eye(cfg.Y)[rng.integers(cfg.Y, size=(B, T))]
    m = np.ones((B, T))
    m[-1, T - 2:] = 0.0
    return x, y, m


# ---------------------------------------------------------------- finite differences

@pytest.mark.parametrize("controller,loss,heads", [("feedforward", "bce", 2),
                                               ("lstm", "softmax", 1)])
def test_gradients_match_central_differences_away_from_ties(controller, loss, heads):
    # Random init.memory (the "state" regime): after step 0's exact zero tie (which no
    # perturbation moves) the usages are distinct, so the free lists stay put within +-h.
    cfg = DNCConfig(3, 2, controller_size=5, memory_rows=5, memory_width=3, read_heads=heads,
                    controller=controller, loss=loss)
    params = init_params(cfg, 21, "state")
    x, y, m = _data(cfg, 2, 5, 22)
    run = R.run_batch(cfg, params, x, y, m)
    usage = run["trace"]["usage"][:, 1:]
    gaps = np.diff(np.sort(usage, axis=-1), axis=-1)
    assert gaps.min() > 1e-4      # away from ties indeed

    def loss_of(p, xx):
        return R.run_batch(cfg, p, xx, y, m, want_trace=False, want_grads=False)["loss"].sum()

    rng = np.random.default_rng(23)
    h = 1e-6
    for name in list(params) + ["inputs"]:
        target = x if name == "inputs" else params[name]
        g = run["grad_inputs"] if name == "inputs" else run["grads"][name]
        v = rng.standard_normal(target.shape)          # a random direction
        if name == "inputs":
            fd = (loss_of(params, x + h * v) - loss_of(params, x - h * v)) / (2 * h)
        else:
            fd = (loss_of(dict(params, **{name: target + h * v}), x)
                  - loss_of(dict(params, **{name: target - h * v}), x)) / (2 * h)
        analytic = float(np.sum(g * v))
        assert abs(fd - analytic) <= 1e-6 * max(1.0, abs(analytic)), (name, fd, analytic)


# ---------------------------------------------------------------- allocation at ties

def _allocation_jacobian(u, order=None):
    u = np.asarray(u, dtype=np.float64)[None]
    order = R.free_list(u) if order is None else np.asarray([order])
    return R.allocation(u, order)[0], jacobian(lambda v: R.allocation(v, order)[0])(u)[:, 0]


def test_hand_worked_tie_follows_the_stable_order():
    # u = (0, 0, 0.5, 1): phi = (0, 1, 2, 3) (stable: row 0 before row 1).
    # a_0 = 1 - u_0; a_1 = (1 - u_1) u_0; a_2 = (1 - u_2) u_0 u_1; a_3 = (1 - u_3) u_0 u_1 u_2.
    # At u: a = e_0; the only non-zero derivatives: da_0/du_0 = -1, da_1/du_0 = 1 - u_1 = 1.
    a, J = _allocation_jacobian([0.0, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(a, [1.0, 0.0, 0.0, 0.0])
    expected = np.zeros((4, 4))
    expected[0, 0], expected[1, 0] = -1.0, 1.0
    np.testing.assert_array_equal(J, expected)


def test_breaking_the_tie_the_other_way_moves_both_to_column_1():
    # phi = (1, 0, 2, 3): a_1 = 1 - u_1, a_0 = (1 - u_0) u_1: da_1/du_1 = -1, da_0/du_1 = +1.
    a, J = _allocation_jacobian([0.0, 0.0, 0.5, 1.0], order=[1, 0, 2, 3])
    np.testing.assert_array_equal(a, [0.0, 1.0, 0.0, 0.0])
    expected = np.zeros((4, 4))
    expected[1, 1], expected[0, 1] = -1.0, 1.0
    np.testing.assert_array_equal(J, expected)


def test_free_list_is_stable_ascending_on_the_usage_itself():
    u = np.array([[0.3, 0.1, 0.3, 0.1, 0.0, 0.3]])
    np.testing.assert_array_equal(R.free_list(u), [[4, 1, 3, 0, 2, 5]])


def test_allocation_derivative_at_zero_usage_is_the_product_of_the_other_factors():
    # u = 0 everywhere (every step 0): a = e_0, and d a_j / d u_k = PROD of the other
    # factors: -1 at (0, 0), (1 - u_1) = 1 at (1, 0), 0 elsewhere (each other product
    # holds a zero factor).  A division by u would give 0/0 = NaN here.
    a, J = _allocation_jacobian(np.zeros(5))
    np.testing.assert_array_equal(a, np.eye(5)[0])
    expected = np.zeros((5, 5))
    expected[0, 0], expected[1, 0] = -1.0, 1.0
    np.testing.assert_array_equal(J, expected)


def test_allocation_derivative_away_from_ties_is_the_polynomials():
    u = np.array([0.2, 0.6, 0.4])        # phi = (0, 2, 1)
    a, J = _allocation_jacobian(u)
    # a_0 = 1 - u0; a_2 = (1 - u2) u0; a_1 = (1 - u1) u0 u2
    np.testing.assert_allclose(a, [0.8, 0.4 * 0.2 * 0.4, 0.6 * 0.2], rtol=1e-15)
    expected = np.array([[-1.0, 0.0, 0.0],
                         [0.4 * 0.4, -0.2 * 0.4, 0.4 * 0.2],
                         [0.6, 0.0, -0.2]])
    np.testing.assert_allclose(J, expected, rtol=1e-15)


def test_retention_with_a_full_free_gate_on_a_one_hot_read_gives_finite_gradients():
    # psi = PROD_i (1 - f^i wr^i): one factor exactly 0 (f = 1 on a one-hot read).
    # d psi / d f^0 at row 1 = -wr^0[1] * (1 - f^1 wr^1[1]) = -1 * (1 - 0.5 * 0.25).
    f = np.array([[1.0, 0.5]])
    wr = np.array([[[0.0, 1.0, 0.0], [0.5, 0.25, 0.25]]])
    psi = R.retention(f, wr)
    np.testing.assert_array_equal(psi, [[1.0 - 0.25, 0.0, 1.0 - 0.125]])
    g = grad(lambda ff: anp.sum(R.retention(ff, wr)[:, 1]))(f)
    np.testing.assert_array_equal(g, [[-(1.0 - 0.5 * 0.25), -0.25 * 0.0]])


def test_whole_model_gradients_are_finite_where_usage_and_retention_are_zero():
    # The free regime frees rows to psi = u = 0; every step 0 has u = 0 in all rows.
    cfg = DNCConfig(4, 3, controller_size=6, memory_rows=5, memory_width=3, read_heads=2)
    x, y, m = _data(cfg, 2, 6, 31)
    for regime in ("init", "free"):
        run = R.run_batch(cfg, init_params(cfg, 32, regime), x, y, m)
        assert np.all(run["trace"]["usage"][:, 0] == 0.0)
        for name, g in run["grads"].items():
            assert np.isfinite(g).all(), (regime, name)


def test_link_diagonal_is_a_constant_zero_with_no_gradient():
    rng = np.random.default_rng(4)
    L_prev = rng.uniform(size=(1, 4, 4))
    ww, p = rng.uniform(0, 0.3, size=(1, 1, 4)), rng.uniform(0, 0.3, size=(1, 4))
    L = R.link(L_prev, ww, p)
    np.testing.assert_array_equal(np.diagonal(L[0]), 0.0)
    off = (1 - ww[0, 0][:, None] - ww[0, 0][None, :]) * L_prev[0] + ww[0, 0][:, None] * p[0]
    np.testing.assert_allclose(L[0][~np.eye(4, dtype=bool)], off[~np.eye(4, dtype=bool)],
                               rtol=1e-15)

    def diagonal_sum(args):
        return anp.sum(R.link(*args)[0] * np.eye(4))
    for g in grad(diagonal_sum)((L_prev, ww, p)):
        np.testing.assert_array_equal(g, 0.0)   # the formula there would give 1 - 2 ww[i], ...


def test_links_and_precedence_from_the_previous_precedence():
    # Write e_1, then e_2: p_0 = e_1, L_0 = 0 (p_{-1} = 0); then L_1 = e_2 e_1^T, p_1 = e_2.
    e = np.eye(3)
    L0 = R.link(np.zeros((1, 3, 3)), e[1][None, None], np.zeros((1, 3)))
    p0 = R.precedence(np.zeros((1, 3)), e[1][None, None])
    np.testing.assert_array_equal(L0, 0.0)
    np.testing.assert_array_equal(p0, [e[1]])
    L1 = R.link(L0, e[2][None, None], p0)
    np.testing.assert_array_equal(L1[0], np.outer(e[2], e[1]))
    np.testing.assert_array_equal(R.precedence(p0, e[2][None, None]), [e[2]])
    # forward from row 1 goes to row 2, backward from row 2 to row 1
    fw, bw = R.directions(L1, np.stack([e[1], e[2]])[None])
    np.testing.assert_array_equal(fw[0, 0], e[2])
    np.testing.assert_array_equal(bw[0, 1], e[1])


def test_oneplus_derivative_is_sigmoid_and_one_half_at_zero():
    assert R.oneplus(0.0) == 1.0 + np.log(2.0)
    assert grad(R.oneplus)(0.0) == 0.5
    for z in (-3.0, 2.5, 40.0):
        np.testing.assert_allclose(grad(R.oneplus)(z), 1.0 / (1.0 + np.exp(-z)), rtol=1e-15)


def test_step_zero_of_the_zero_state():
    # u_0 = 0, psi_0 = 1, a_0 = e_0, L_0 = 0, fw = bw = 0, cw_0 = 1/N (zero memory).
    cfg = DNCConfig(3, 2, controller_size=4, memory_rows=4, memory_width=2, read_heads=2)
    x, y, m = _data(cfg, 2, 3, 5)
    tr = R.run_batch(cfg, init_params(cfg, 6, "init"), x, y, m, want_grads=False)["trace"]
    np.testing.assert_array_equal(tr["usage"][:, 0], 0.0)
    np.testing.assert_array_equal(tr["retention"][:, 0], 1.0)
    np.testing.assert_array_equal(tr["allocation"][:, 0], np.tile(np.eye(4)[0], (2, 1)))
    np.testing.assert_array_equal(tr["allocation.order"][:, 0], np.tile(np.arange(4.0), (2, 1)))
    np.testing.assert_array_equal(tr["link"][:, 0], 0.0)
    np.testing.assert_array_equal(tr["read.forward"][:, 0], 0.0)
    np.testing.assert_array_equal(tr["read.backward"][:, 0], 0.0)
    np.testing.assert_array_equal(tr["write.content"][:, 0], 0.25)


def test_saturated_gates_pass_no_gradient():
    # full: write and allocation gates +1000, free gates -1000, read from no unit.
    cfg = DNCConfig(4, 3, controller_size=6, memory_rows=5, memory_width=3, read_heads=2)
    x, y, m = _data(cfg, 2, 6, 41)
    run = R.run_batch(cfg, init_params(cfg, 42, "full"), x, y, m)
    rows = [start + k for name, start, length, _ in interface_fields(cfg)
            if name in ("free_gate", "allocation_gate", "write_gate") for k in range(length)]
    np.testing.assert_array_equal(run["grads"]["interface.bias"][rows], 0.0)
    np.testing.assert_array_equal(run["grads"]["interface.weight"][rows], 0.0)
    assert np.abs(run["grads"]["interface.bias"]).max() > 0


def test_float32_run_is_float32_and_close():
    cfg = DNCConfig(3, 2, controller_size=4, memory_rows=4, memory_width=2, read_heads=1)
    x, y, m = _data(cfg, 2, 4, 7)
    p = init_params(cfg, 8, "state")
    r64, r32 = R.run_batch(cfg, p, x, y, m), R.run_batch(cfg, p, x, y, m, dtype="float32")
    assert r32["logits"].dtype == np.float32 and r32["grads"]["init.memory"].dtype == np.float32
    np.testing.assert_allclose(r32["loss"], r64["loss"], rtol=1e-5)
    with pytest.raises(ValueError, match=r"dtype: expected one of \('float64', 'float32', "
                       r"'tf32', 'bfloat16', 'float16'\), got 'int8'"):
        R.run_batch(cfg, p, x, y, m, dtype="int8")


# ---------------------------------------------------------------- config and layout

def test_config_fields_and_errors():
    cfg = DNCConfig.from_dict({"input_size": 6, "output_size": 4, "controller_size": 12,
                               "memory_rows": 8, "memory_width": 4, "read_heads": 2})
    assert (cfg.controller, cfg.loss, cfg.model) == ("feedforward", "bce", "dnc")
    assert cfg.I == 2 * 4 + 3 * 4 + 5 * 2 + 3 == 33
    assert DNCConfig.from_dict(cfg.to_dict()) == cfg
    for bad, match in ((dict(memory_rows=0), r"DNCConfig.memory_rows: expected an integer >= 1"),
                       (dict(read_heads=True), r"DNCConfig.read_heads: expected an integer"),
                       (dict(controller="gru"), r"DNCConfig.controller: expected one of"),
                       (dict(loss="mse"), r"DNCConfig.loss: expected one of"),
                       (dict(model="ntm"), r"DNCConfig.model: expected one of \('dnc',\)"),
                       (dict(write_heads=2), r"unknown field\(s\) \['write_heads'\]")):
        with pytest.raises(ValueError, match=match):
            DNCConfig.from_dict({"input_size": 1, "output_size": 1, **bad})


def test_layout_matches_the_spec_tables():
    cfg = DNCConfig(6, 4, controller_size=12, memory_rows=8, memory_width=4, read_heads=2,
                    controller="lstm")
    assert param_shapes(cfg) == {
        "controller.weight": (48, 6 + 8 + 12), "controller.bias": (48,),
        "interface.weight": (33, 12), "interface.bias": (33,), "output.weight": (4, 12 + 8),
        "output.bias": (4,), "init.memory": (8, 4), "init.read": (2, 4)}
    # the paper's order: read keys, read strengths, write key, write strength, erase,
    # write vector, free gates, allocation gate, write gate, read modes
    starts = [(name, start) for name, start, _, _ in interface_fields(cfg)]
    assert starts == [("read.key", 0), ("read.strength", 8), ("write.key", 10),
                      ("write.strength", 14), ("write.erase", 15), ("write.vector", 19),
                      ("free_gate", 23), ("allocation_gate", 25), ("write_gate", 26),
                      ("read.mode", 27)]
    xi = np.arange(33.0)[None]
    raw = split_interface(xi, cfg)
    np.testing.assert_array_equal(raw["read.key"][0, 1], [4, 5, 6, 7])
    np.testing.assert_array_equal(raw["read.mode"][0, 1], [30, 31, 32])   # head 1's three
    shapes = trace_shapes(cfg, 5)
    assert shapes["write.weight"] == (1, 8) and shapes["link"] == (8, 8)
    assert shapes["allocation_gate"] == (1,) and shapes["read.mode"] == (2, 3)
    stages = {e.name: e.stage.number for e in trace_entries(cfg)}
    assert stages["usage"] == 4 and stages["allocation.order"] == 5 and stages["link"] == 9
    assert stages["read.forward"] == 11 and stages["logits"] == 15
    assert [e.stage.number for e in trace_entries(cfg)] == sorted(stages.values())
    assert set(FAMILY.regimes) == set(REGIMES)


def test_dup_regime_needs_six_rows():
    with pytest.raises(ValueError, match=r"regime 'dup'.*memory_rows >= 6, got 4"):
        init_params(DNCConfig(2, 2, memory_rows=4), 0, "dup")
