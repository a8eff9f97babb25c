"""The batched form (models/stack/batched.py) through the torch and JAX drivers against the
float64 reference: logits, loss, every trace entry, every parameter gradient and the input
gradient, ~1e-10, on every fixture case (exact ties included: the tie rule must match) and
on held-out draws; float32 within a loose bound."""

import numpy as np
import pytest

from diffmem.models.stack import reference
from diffmem.models.stack.batched import BatchedStack
from diffmem.models.stack.cases import cases, heldout
from diffmem.models.stack.config import StackConfig
from diffmem.models.stack.params import init_params

def assert_same(ref, got, rtol, atol, what):
    def close(a, b, name):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=f"{what}: {name}")
    close(ref["logits"], got["logits"], "logits")
    close(ref["loss"], got["loss"], "loss")
    assert set(got["trace"]) == set(ref["trace"]), what
    for k in ref["trace"]:
        assert got["trace"][k].shape == ref["trace"][k].shape, (what, k)
        close(ref["trace"][k], got["trace"][k], f"trace {k}")
    for k in ref["grads"]:
        close(ref["grads"][k], got["grads"][k], f"grad {k}")
    close(ref["grad_inputs"], got["grad_inputs"], "grad_inputs")


@pytest.fixture(scope="module")
def built():
    out = {}
    for case in cases():
        cfg, params, x, y, m, meta = case.build()
        out[case.name] = (cfg, params, x, y, m, reference.run_batch(cfg, params, x, y, m))
    return out


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_batched_float64_equals_reference_on_every_case(built, backend, drivers):
    for name, (cfg, params, x, y, m, ref) in built.items():
        got = drivers[backend](BatchedStack, cfg, params, x, y, m)
        assert_same(ref, got, 1e-10, 1e-10, f"{backend} {name}")


@pytest.mark.parametrize("index,backends", [(0, ("torch", "jax")), (1, ("torch",)),
                                            (2, ("torch",))])
def test_batched_float64_equals_reference_on_heldout(index, backends, drivers):
    """Held-out draws (B = 33, longer, wider; JAX on one: its compile is the cost)."""
    case = heldout(7, index)
    cfg, params, x, y, m, meta = case.build()
    assert x.shape[0] == 33
    ref = reference.run_batch(cfg, params, x, y, m)
    for backend in backends:
        got = drivers[backend](BatchedStack, cfg, params, x, y, m)
        assert_same(ref, got, 1e-10, 1e-10, f"{backend} heldout {index}")


@pytest.mark.parametrize("model", ["stack", "queue", "deque"])
def test_batched_float32_close_to_reference(model, drivers):
    cfg = StackConfig(3, 4, controller_size=6, value_size=3, controller="lstm", model=model)
    params = init_params(cfg, 3, "init")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((2, 6, 3)), rng.uniform(size=(2, 6, 4))
    m = np.ones((2, 6))
    ref = reference.run_batch(cfg, params, x, y, m)
    for backend in ("torch", "jax") if model == "deque" else ("torch",):
        got = drivers[backend](BatchedStack, cfg, params, x, y, m, dtype="float32")
        assert_same(ref, got, 1e-3, 1e-4,
                    f"{backend} float32 {model}")


def test_float32_reference_is_float32_and_close():
    cfg = StackConfig(3, 4, controller_size=6, value_size=3, model="deque", loss="softmax")
    params = init_params(cfg, 4, "init")
    rng = np.random.default_rng(4)
    x, y, m = rng.standard_normal((2, 5, 3)), rng.uniform(size=(2, 5, 4)), np.ones((2, 5))
    r64 = reference.run_batch(cfg, params, x, y, m)
    r32 = reference.run_batch(cfg, params, x, y, m, dtype="float32")
    assert r32["logits"].dtype == np.float32 and r32["grads"]["init.read"].dtype == np.float32
    assert_same(r64, r32, 1e-3, 1e-4, "reference float32")


def test_unused_rows_get_no_gradient():
    """The preallocated rows that no step has used yet (and the padding) carry no
    gradient: the initial strength and value arrays as leaves get exactly 0."""
    import torch

    from diffmem.backends.torch.ops import TorchOps
    from diffmem.models.stack.batched import BatchedStack

    for model in ("stack", "queue", "deque"):
        cfg = StackConfig(3, 4, controller_size=6, value_size=3, model=model)
        params = {k: torch.tensor(v) for k, v in init_params(cfg, 5, "sharp").items()}
        stack = BatchedStack(TorchOps(), cfg)
        T = 6
        state = stack.initial_state(params, 2, steps=T)
        s0 = torch.rand(state["strength"].shape, dtype=torch.float64) * 0
        v0 = torch.zeros(state["value"].shape, dtype=torch.float64)
        s0.requires_grad_(True), v0.requires_grad_(True)
        state = dict(state, strength=s0, value=v0)
        x = torch.tensor(np.random.default_rng(5).standard_normal((2, T, 3)))
        total = 0
        for t in range(T):
            state, record = stack.step(params, state, x[:, t])
            total = total + record["logits"].sum() + record["strength"].sum()
        gs, gv = torch.autograd.grad(total, [s0, v0])
        assert torch.all(gs == 0) and torch.all(gv == 0), model


def test_reference_low_precision_modes_round_the_linear_layers():
    """tf32 / bfloat16 / float16: float32 results, within the format's precision of
    float64, and not equal to the plain float32 run (the products are rounded)."""
    cfg = StackConfig(3, 4, controller_size=6, value_size=3, model="queue", controller="lstm")
    params = init_params(cfg, 6, "init")
    rng = np.random.default_rng(6)
    x, y, m = rng.standard_normal((2, 5, 3)), rng.uniform(size=(2, 5, 4)), np.ones((2, 5))
    r64 = reference.run_batch(cfg, params, x, y, m)
    r32 = reference.run_batch(cfg, params, x, y, m, dtype="float32")
    for mode, tol in (("tf32", 2e-2), ("bfloat16", 1e-1), ("float16", 2e-2)):
        low = reference.run_batch(cfg, params, x, y, m, dtype=mode)
        assert low["logits"].dtype == np.float32
        np.testing.assert_allclose(low["loss"], r64["loss"], rtol=tol)
        assert not np.array_equal(low["logits"], r32["logits"]), mode
