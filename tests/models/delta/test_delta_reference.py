"""The frozen delta/1 reference: a hand-worked two-step case, the papers' V x K form of the
recurrence (an independent formula), finite differences, the empty-sequence and g = 0
rules, and the config's validation."""

import math

import numpy as np
import pytest

from diffmem.models.delta import DeltaConfig, run_batch
from diffmem.models.delta.cases import pack, random_data
from diffmem.models.delta.layout import param_shapes, state_steps


def one_head(**kw):
    base = dict(model="gated_deltanet", heads=1, value_heads=1, key_dim=1, value_dim=1,
                scale=1.0, sequences=1)
    return DeltaConfig(**{**base, **kw})


def test_hand_worked_two_steps():
    # K = V = 1, h0 = 2.  Step 1: q = k = 1, v = 3, beta = 1/2, alpha = 1/2:
    #   d = 1/2 (3 - 1/2 * 2 * 1) = 1, S = 1/2 * 2 + 1 * 1 = 2, o = 2.
    # Step 2: q = 1, k = 1, v = 0, beta = 1, alpha = 1: d = 0 - 2 = -2, S = 0, o = 0.
    cfg = one_head()
    x = np.array([[[1.0, 1.0, 3.0, math.log(0.5), 0.5], [1.0, 1.0, 0.0, 0.0, 1.0]]])
    do = np.array([[[1.0], [10.0]]])
    h0, dht = np.full((1, 1, 1, 1), 2.0), np.full((1, 1, 1, 1), 5.0)
    r = run_batch(cfg, {"h0": h0, "dht": dht}, x, do, np.ones((1, 2)))
    assert r["logits"][0, :, 0].tolist() == [2.0, 0.0]
    assert r["trace"]["delta"][0, :, 0, 0].tolist() == [1.0, -2.0]
    assert r["trace"]["decay"][0, :, 0].tolist() == [0.5, 1.0]
    assert r["grads"]["dht"].item() == 0.0                 # dL/d(dht) = ht = 0
    assert r["loss"].tolist() == [1 * 2 + 10 * 0 + 5 * 0]
    # dL/dh0 by hand: S2 = (1 - beta2 k^2) S1 with S1 = alpha1 (1 - beta1) h0 + beta1 v1,
    # so S2 = 0 for every h0: only o1 = S1 depends on h0, do1 * alpha1 (1 - beta1) = 1/4.
    assert r["grads"]["h0"].item() == pytest.approx(0.25, abs=1e-15)


def papers_form(cfg, d):
    """The papers' state, V x K: S_t = S_{t-1} alpha (I - beta k k^T) + beta v k^T,
    o = scale S q (Yang et al. 2024), per row and value head: o [B, T, HV, V], ht."""
    B, T = d["q"].shape[:2]
    o = np.zeros((B, T, cfg.HV, cfg.V))
    ht = np.zeros((B, cfg.HV, cfg.V, cfg.K))
    for b in range(B):
        for j in range(cfg.HV):
            i = j // cfg.G
            S = d["h0"][b, j].T.copy()
            for t in range(T):
                q, k, v = d["q"][b, t, i], d["k"][b, t, i], d["v"][b, t, j]
                alpha, beta = math.exp(d["g"][b, t, j]), d["beta"][b, t, j, 0]
                S = S @ (alpha * (np.eye(cfg.K) - beta * np.outer(k, k))) + beta * np.outer(v, k)
                o[b, t, j] = cfg.scale * S @ q
            ht[b, j] = S
    return o, ht


def test_agrees_with_the_papers_v_by_k_form():
    cfg = DeltaConfig(model="gated_deltanet", heads=2, value_heads=4, key_dim=5, value_dim=3,
                      sequences=2)
    d = random_data(cfg, np.random.default_rng(0), 2, 9)
    params = {k: d[k] for k in param_shapes(cfg)}
    r = run_batch(cfg, params, pack(cfg, d), d["do"], np.ones((2, 9)))
    o, ht = papers_form(cfg, d)
    np.testing.assert_allclose(r["logits"], o.reshape(2, 9, -1), rtol=0, atol=1e-13)
    np.testing.assert_allclose(r["grads"]["dht"], ht.swapaxes(-1, -2), rtol=0, atol=1e-13)


def loss_of(cfg, params, x, do, mask):
    return run_batch(cfg, params, x, do, mask, want_trace=False, want_grads=False)["loss"].sum()


@pytest.mark.parametrize("kw", [
    dict(model="gated_deltanet", qk_l2norm=True, heads=1, value_heads=2),
    dict(model="deltanet", beta_per_value=True, sequences=3, cu_seqlens=[0, 2, 2, 5]),
])
def test_gradients_match_finite_differences(kw):
    cfg = DeltaConfig(**{"key_dim": 3, "value_dim": 2, "heads": 1, "value_heads": 1,
                         "sequences": 1, **kw})
    rng = np.random.default_rng(1)
    B = 1
    T = 5
    d = random_data(cfg, rng, B, T, raw_qk=cfg.qk_l2norm)
    params = {k: d[k] for k in param_shapes(cfg)}
    x, do, mask = pack(cfg, d), d["do"], rng.uniform(0.5, 2, size=(B, T))
    r = run_batch(cfg, params, x, do, mask, want_trace=False)
    h = 1e-6
    for _ in range(3):   # directional derivatives along random directions
        dx = rng.standard_normal(x.shape)
        if cfg.gated:    # keep g <= 0
            g0 = 2 * cfg.H * cfg.K + cfg.HV * cfg.V
            dx[..., g0:g0 + cfg.HV] = 0.0
        dp = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        plus = loss_of(cfg, {k: v + h * dp[k] for k, v in params.items()}, x + h * dx, do, mask)
        minus = loss_of(cfg, {k: v - h * dp[k] for k, v in params.items()}, x - h * dx, do, mask)
        numeric = (plus - minus) / (2 * h)
        exact = np.sum(r["grad_inputs"] * dx) + sum(np.sum(r["grads"][k] * dp[k]) for k in params)
        assert numeric == pytest.approx(exact, rel=1e-6, abs=1e-8)


def test_gate_gradient_matches_finite_differences():
    cfg = DeltaConfig(model="gated_deltanet", heads=1, value_heads=1, key_dim=3, value_dim=2)
    rng = np.random.default_rng(2)
    d = random_data(cfg, rng, 1, 4)
    params = {k: d[k] for k in param_shapes(cfg)}
    x, do, mask = pack(cfg, d), d["do"], np.ones((1, 4))
    r = run_batch(cfg, params, x, do, mask, want_trace=False)
    col = 2 * cfg.K + cfg.V
    for t in range(4):
        up, down = x.copy(), x.copy()
        up[0, t, col] += 1e-6
        down[0, t, col] -= 1e-6
        numeric = (loss_of(cfg, params, up, do, mask) - loss_of(cfg, params, down, do, mask)) / 2e-6
        assert numeric == pytest.approx(r["grad_inputs"][0, t, col], rel=1e-6, abs=1e-9)


def test_empty_sequence_hands_h0_through():
    cfg = DeltaConfig(model="gated_deltanet", heads=1, value_heads=1, key_dim=2, value_dim=2,
                      sequences=3, cu_seqlens=[0, 3, 3, 4])
    d = random_data(cfg, np.random.default_rng(3), 1, 4)
    params = {k: d[k] for k in param_shapes(cfg)}
    r = run_batch(cfg, params, pack(cfg, d), d["do"], np.ones((1, 4)))
    assert np.array_equal(r["grads"]["dht"][1], params["h0"][1])     # ht = h0
    assert np.array_equal(r["grads"]["h0"][1], params["dht"][1])     # dh0 = dht
    assert state_steps(cfg, 4).tolist() == [2, 3]


def test_state_trace_is_strided():
    cfg = DeltaConfig(model="deltanet", sequences=1)
    assert state_steps(cfg, 130).tolist() == [63, 127, 129]
    assert state_steps(cfg, 64).tolist() == [63]
    cu = DeltaConfig(model="deltanet", sequences=5, cu_seqlens=[0, 1, 65, 65, 135, 200])
    assert state_steps(cu, 200).tolist() == [0, 64, 128, 134, 198, 199]


def test_two_styles_agree_in_float64_and_differ_in_float32():
    cfg = DeltaConfig(model="gated_deltanet", heads=1, value_heads=2, sequences=2,
                      cu_seqlens=None)
    d = random_data(cfg, np.random.default_rng(4), 2, 70)
    args = ({k: d[k] for k in param_shapes(cfg)}, pack(cfg, d), d["do"], np.ones((2, 70)))
    rec, chunk = (run_batch(cfg, *args, style=s) for s in ("recurrence", "chunked"))
    np.testing.assert_allclose(chunk["logits"], rec["logits"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(chunk["grad_inputs"], rec["grad_inputs"], rtol=0, atol=1e-12)
    both = run_batch(cfg, *args, dtype="float32")
    styles = [run_batch(cfg, *args, dtype="float32", style=s) for s in ("recurrence", "chunked")]
    err = [np.abs(s["logits"] - rec["logits"]) for s in styles]
    assert np.array_equal(np.abs(both["logits"] - rec["logits"]), np.maximum(*err))


def test_config_defaults_and_errors():
    assert DeltaConfig(model="deltanet", key_dim=60).scale == 0.12909944487358058
    cfg = DeltaConfig(model="gated_deltanet", heads=2, value_heads=4, beta_per_value=True)
    assert (cfg.input_size, cfg.output_size) == (2 * 2 * 16 + 4 * 16 + 4 + 4 * 16, 64)
    assert DeltaConfig.from_dict(cfg.to_dict()) == cfg
    for bad, field in ((dict(model="deltanet", heads=2, value_heads=4), "value_heads"),
                       (dict(value_heads=3), "value_heads"), (dict(key_dim=0), "key_dim"),
                       (dict(cu_seqlens=[0, 5, 3], sequences=2), "cu_seqlens"),
                       (dict(cu_seqlens=[0, 5], sequences=2), "cu_seqlens"),
                       (dict(qk_l2norm=1), "qk_l2norm"), (dict(scale=float("nan")), "scale"),
                       (dict(model="mamba"), "model")):
        with pytest.raises(ValueError, match=f"DeltaConfig.{field}"):
            DeltaConfig(**bad)
    with pytest.raises(ValueError, match="unknown field"):
        DeltaConfig.from_dict({"model": "deltanet", "chunk": 64})


def test_positive_gate_and_wrong_rows_are_one_clear_line():
    cfg = one_head(sequences=1)
    x = np.array([[[1.0, 1.0, 3.0, 0.5, 0.5]]])
    p = {"h0": np.zeros((1, 1, 1, 1)), "dht": np.zeros((1, 1, 1, 1))}
    with pytest.raises(ValueError, match="g .* must be <= 0"):
        run_batch(cfg, p, x, np.ones((1, 1, 1)), np.ones((1, 1)))
    with pytest.raises(ValueError, match="expected B = sequences = 1 rows, got 2"):
        run_batch(cfg, p, np.zeros((2, 1, 5)), np.ones((2, 1, 1)), np.ones((2, 1)))
