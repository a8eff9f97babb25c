"""The reference against central finite differences, its clip, and its input checks."""

import numpy as np
import pytest

from diffmem.models.stackrnn import reference as ref
from diffmem.models.stackrnn.config import StackRNNConfig
from diffmem.models.stackrnn.params import init_params


def _data(cfg, B, T, seed):
    rng = np.random.default_rng(seed)
    x = np.eye(cfg.V)[rng.integers(cfg.V, size=(B, T))]
    y = np.eye(cfg.V)[rng.integers(cfg.V, size=(B, T))]
    m = np.ones((B, T))
    m[-1, T // 2:] = 0.0
    return x, y, m


def _total_loss(cfg, params, x, y, m):
    # The reference's own functions on plain arrays: no autograd involved.
    return float(np.sum(ref.sequence_loss(ref.forward(params, cfg, x, want_trace=False)[0],
                                          y, m)))


def _push_preactivations(cfg, params, x):
    tr = ref.run_batch(cfg, params, x, np.zeros_like(x), np.zeros(x.shape[:2]),
                       want_grads=False)["trace"]
    return np.einsum("kh,bth->btk", params["D"], tr["hidden"]) + params["bias.push"]


@pytest.mark.parametrize("actions,regime,k", [(("push", "pop"), "init", 2),
                                              (("push", "pop", "noop"), "sharp", 1),
                                              (("push", "pop", "noop"), "clipped", 2)])
def test_gradients_match_central_differences(actions, regime, k):
    cfg = StackRNNConfig(alphabet_size=3, hidden_size=4, stacks=2, depth=3, top_k=k,
                         actions=actions)
    params = init_params(cfg, 5, regime)
    x, y, m = _data(cfg, 2, 6, 1)
    pre = _push_preactivations(cfg, params, x)
    assert np.abs(np.abs(pre) - ref.CLIP).min() > 1e-3   # away from the clip's kinks
    if regime == "clipped":
        assert (np.abs(pre) > ref.CLIP).any() and (np.abs(pre) < ref.CLIP).any()
    got = ref.run_batch(cfg, params, x, y, m)
    eps = 1e-6
    for name, value in list(params.items()) + [("inputs", x)]:
        fd = np.zeros(value.shape)
        for i in np.ndindex(value.shape):
            plus, minus = value.copy(), value.copy()
            plus[i] += eps
            minus[i] -= eps
            if name == "inputs":
                fd[i] = (_total_loss(cfg, params, plus, y, m)
                         - _total_loss(cfg, params, minus, y, m)) / (2 * eps)
            else:
                fd[i] = (_total_loss(cfg, dict(params, **{name: plus}), x, y, m)
                         - _total_loss(cfg, dict(params, **{name: minus}), x, y, m)) / (2 * eps)
        g = got["grad_inputs"] if name == "inputs" else got["grads"][name]
        # Relative error; the floor 1e-2 covers tiny gradients (saturated actions), where
        # the differences' own rounding (~1e-16 * loss / eps ~ 1e-9) dominates.
        scale = max(np.linalg.norm(fd), 1e-2)
        assert np.linalg.norm(g - fd) / scale < 1e-6, name


def test_clip_gradient_zero_outside_one_at_the_boundary():
    from autograd import grad
    d = grad(lambda z: ref.clip(z))
    assert [d(z) for z in (-60.0, -50.0, 0.0, 50.0, 60.0)] == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert ref.clip(75.0) == 50.0 and ref.clip(-75.0) == -50.0


def test_clipped_push_value_has_no_gradient_through_d():
    # Every push pre-activation beyond +-50: D and bias.push get exactly zero gradient.
    cfg = StackRNNConfig(alphabet_size=2, hidden_size=3, stacks=1, depth=4)
    params = init_params(cfg, 2, "init")
    params["bias.push"][:] = 200.0
    x, y, m = _data(cfg, 1, 5, 3)
    got = ref.run_batch(cfg, params, x, y, m)
    assert np.all(got["trace"]["push_value"] == 1.0)
    assert np.all(got["grads"]["D"] == 0.0) and np.all(got["grads"]["bias.push"] == 0.0)
    assert np.abs(got["grads"]["A"]).max() > 0


def test_float32_close_to_float64():
    cfg = StackRNNConfig(alphabet_size=3, hidden_size=5, stacks=2, depth=4,
                         actions=("push", "pop", "noop"))
    params = init_params(cfg, 8, "init")
    x, y, m = _data(cfg, 2, 8, 4)
    a, b = ref.run_batch(cfg, params, x, y, m), ref.run_batch(cfg, params, x, y, m,
                                                              dtype="float32")
    assert b["loss"].dtype == np.float32 and b["trace"]["stack"].dtype == np.float32
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-5)
    np.testing.assert_allclose(b["grads"]["R"], a["grads"]["R"], rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- bad input

CFG = StackRNNConfig(alphabet_size=3, hidden_size=4, stacks=2, depth=3)


@pytest.mark.parametrize("fields,match", [
    ({"alphabet_size": 0}, "alphabet_size"),
    ({"hidden_size": True}, "hidden_size"),
    ({"depth": 1}, "depth"),
    ({"top_k": 4, "depth": 3}, "top_k"),
    ({"actions": ("push", "noop")}, "actions"),
    ({"actions": 3}, "actions"),
    ({"model": "stack"}, "model"),
    ({"colour": "red"}, "unknown field"),
])
def test_bad_config(fields, match):
    d = dict(CFG.to_dict(), **fields)
    with pytest.raises(ValueError, match=match) as info:
        StackRNNConfig.from_dict(d)
    assert "\n" not in str(info.value)


def test_config_round_trip():
    d = CFG.to_dict()
    assert d["actions"] == ["push", "pop"] and StackRNNConfig.from_dict(d) == CFG
    assert CFG.input_size == CFG.output_size == 3
    with pytest.raises(ValueError, match="missing"):
        StackRNNConfig.from_dict({"alphabet_size": 2})


def _good():
    params = init_params(CFG, 0)
    x, y, m = _data(CFG, 2, 4, 0)
    return params, x, y, m


@pytest.mark.parametrize("edit,match", [
    (lambda p, x, y, m: (p, x[..., :2], y, m), r"inputs: expected shape \[B, T, X=3\]"),
    (lambda p, x, y, m: (p, x, y[:, :3], m), "same leading"),
    (lambda p, x, y, m: (p, x, y, m[0]), r"mask: expected shape \[B, T\]"),
    (lambda p, x, y, m: (p, x, y, -m), "non-negative"),
    (lambda p, x, y, m: (p, x * np.nan, y, m), "inputs: expected finite"),
    (lambda p, x, y, m: (dict(p, P=p["P"][..., :1]), x, y, m), r"params\['P'\]: expected shape"),
    (lambda p, x, y, m: ({k: v for k, v in p.items() if k != "R"}, x, y, m), "missing"),
    (lambda p, x, y, m: (p, x[:, :0], y[:, :0], m[:, :0]), "at least one"),
])
def test_bad_input(edit, match):
    p, x, y, m = edit(*_good())
    with pytest.raises(ValueError, match=match):
        ref.run_batch(CFG, p, x, y, m)


def test_bad_dtype_and_config_type():
    p, x, y, m = _good()
    with pytest.raises(ValueError, match="dtype"):
        ref.run_batch(CFG, p, x, y, m, dtype="bfloat16")
    with pytest.raises(ValueError, match="StackRNNConfig"):
        ref.run_batch(CFG.to_dict(), p, x, y, m)
    with pytest.raises(ValueError, match="regime"):
        init_params(CFG, 0, "hot")
