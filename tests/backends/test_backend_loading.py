"""Finding the bundled backends, and their clear errors on bad input (issue 3, test 5)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffmem.backends import load_backend
from diffmem.models.ntm.batched import BatchedNTM
from diffmem.models.ntm.reference import NTMConfig, init_params, run_batch

BACKENDS = ("torch", "jax")
CFG = NTMConfig(input_size=3, output_size=2, controller_size=4, memory_rows=3, memory_width=2)


def data(batch=2, steps=3, cfg=CFG):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, steps, cfg.X)),
            (rng.random((batch, steps, cfg.Y)) > 0.5).astype(float), np.ones((batch, steps)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_load_by_name_and_by_import_path(backend):
    by_name = load_backend(backend, "cpu", "float64")
    by_path = load_backend(f"diffmem.backends.{backend}:make_backend", "cpu", "float64")
    assert type(by_name) is type(by_path)
    assert backend in by_name.name and "float64" in by_name.name


@pytest.mark.parametrize("device", ["tpu", "gpu", "cuda:x", "cpu:1", "", None, "CUDA"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_device_is_a_value_error(backend, device):
    with pytest.raises(ValueError, match="device"):
        load_backend(backend, device, "float32")


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_cuda_device_is_a_value_error(backend):
    import torch
    present = torch.cuda.is_available() if backend == "torch" else \
        any(d.platform == "gpu" for d in jax.devices())
    device = "cuda:99" if present else "cuda"
    with pytest.raises(ValueError, match=r"device 'cuda(:99)?'"):
        load_backend(backend, device, "float32")


@pytest.mark.parametrize("dtype", ["float8", "half", "double", None])   # float16, bfloat16: modes
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_dtype_is_a_value_error(backend, dtype):
    from diffmem.backends import jax as jax_backend, torch as torch_backend
    factory = {"torch": torch_backend.make_backend, "jax": jax_backend.make_backend}[backend]
    with pytest.raises(ValueError, match="dtype"):
        factory("cpu", dtype)


def _bad_inputs():
    params = init_params(CFG, seed=0)
    x, y, m = data()
    wrong_shape = dict(params, **{"interface.weight": params["interface.weight"][:, :-1]})
    missing = {k: v for k, v in params.items() if k != "output.bias"}
    other_cfg = NTMConfig(input_size=3, output_size=2, controller_size=4, memory_rows=5,
                          memory_width=2)
    return {
        "param shape": (CFG, wrong_shape, x, y, m, r"params\['interface.weight'\]"),
        "missing param": (CFG, missing, x, y, m, "missing name"),
        "config of other params": (other_cfg, params, x, y, m, "init.memory"),
        "unknown config field": (dict(CFG.to_dict(), heads=2), params, x, y, m, "unknown field"),
        "not a config": ("ntm", params, x, y, m, "config"),
        "inputs width": (CFG, params, x[..., :2], y, m, "inputs"),
        "unbatched inputs": (CFG, params, x[0], y[0], m[0], "inputs"),
        "mask shape": (CFG, params, x, y, m[:, :2], "mask"),
        "NaN input": (CFG, params, np.where(x > 1, np.nan, x), y, m, "finite"),
    }


@pytest.mark.parametrize("what", sorted(_bad_inputs()))
@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_run_arguments_are_value_errors(backend, what):
    cfg, params, x, y, m, message = _bad_inputs()[what]
    be = load_backend(backend, "cpu", "float32")
    with pytest.raises(ValueError, match=message):
        be.run(cfg, params, x, y, m, want_trace=False, want_grads=True)


class NoSharpening(BatchedNTM):
    """A kernel bug: sharpening skipped (weight = w_shifted)."""

    def sharpened_weights(self, w_shifted, gamma):
        return w_shifted


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_cls_runs_a_subclass_through_the_same_driver(backend):
    from diffmem.backends import jax as jax_backend, torch as torch_backend
    module = {"torch": torch_backend, "jax": jax_backend}[backend]
    buggy = functools.partial(module.make_backend, model_cls=NoSharpening)("cpu", "float64")
    assert "NoSharpening" in buggy.name
    params, (x, y, m) = init_params(CFG, seed=1), data()
    result = buggy.run(CFG, params, x, y, m, want_trace=True, want_grads=False)
    ref = run_batch(CFG, params, x, y, m, want_grads=False)
    # at t = 0 the stages before the bug still match; from there on the bug propagates
    np.testing.assert_allclose(result.trace["write.w_shifted"][:, 0],
                               ref["trace"]["write.w_shifted"][:, 0], rtol=1e-9)
    np.testing.assert_array_equal(result.trace["write.weight"], result.trace["write.w_shifted"])
    assert np.abs(result.trace["write.weight"] - ref["trace"]["write.weight"]).max() > 1e-3


def test_jax_float64_leaves_the_global_x64_flag_alone():
    before = jax.config.jax_enable_x64
    params, (x, y, m) = init_params(CFG, seed=1), data()
    result = load_backend("jax", "cpu", "float64").run(CFG, params, x, y, m, want_trace=False,
                                                        want_grads=False)
    assert result.logits.dtype == np.float64
    assert jax.config.jax_enable_x64 == before
    if not before:
        assert jnp.asarray(np.ones(2)).dtype == np.float32


def test_jax_second_call_does_not_recompile():
    be = load_backend("jax", "cpu", "float64")
    params, (x, y, m) = init_params(CFG, seed=1), data()
    be.run(CFG, params, x, y, m, want_trace=False, want_grads=False)
    again = load_backend("jax", "cpu", "float64").run(CFG.to_dict(), init_params(CFG, seed=2),
                                                       x, y, m, want_trace=False,
                                                       want_grads=False)
    assert again.extras["compile_s"] == 0.0


def test_jax_untraced_call_reuses_the_traced_program_and_returns_only_what_it_asked():
    be = load_backend("jax", "cpu", "float64")
    params, (x, y, m) = init_params(CFG, seed=3), data()
    traced = be.run(CFG, params, x, y, m, want_trace=True, want_grads=True)
    bare = be.run(CFG, params, x, y, m, want_trace=False, want_grads=False)
    assert bare.extras["compile_s"] == 0.0
    assert bare.grads is None and bare.grad_inputs is None and bare.trace is None
    np.testing.assert_array_equal(bare.logits, traced.logits)
    np.testing.assert_array_equal(bare.loss, traced.loss)
