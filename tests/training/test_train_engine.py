"""The training engines run the drivers' own forward: in float64 they agree with the
frozen reference to rounding, and the JAX engine leaves JAX's process-wide x64 switch
as it found it (float64 lives in the driver's context only)."""

import numpy as np
import pytest

from diffmem.models import bind
from diffmem.training.engine import make_engine

MODEL = bind({"model": "ntm", "input_size": 3, "output_size": 2, "controller_size": 4,
              "memory_rows": 3, "memory_width": 2, "controller": "lstm"})


def batch(seed=0, B=2, T=4):
    rng = np.random.default_rng(seed)
    mask = np.ones((B, T))
    mask[-1, T - 1:] = 0.0
    return rng.standard_normal((B, T, 3)), rng.uniform(size=(B, T, 2)), mask


@pytest.mark.parametrize("engine", ["torch", "jax"])
def test_float64_engines_equal_the_reference(engine):
    pytest.importorskip(engine)
    params = MODEL.init_params(1)
    x, z, m = batch()
    loss, logits, grads = make_engine(engine, MODEL.config, "float64").loss_and_grads(
        params, x, z, m)
    ref = MODEL.run_reference(params, x, z, m, want_trace=False)
    np.testing.assert_allclose(loss, ref["loss"], rtol=1e-12)
    np.testing.assert_allclose(logits, ref["logits"], rtol=1e-10, atol=1e-12)
    for k, g in ref["grads"].items():   # the engines' gradient is of the batch mean
        np.testing.assert_allclose(grads[k], g / x.shape[0], rtol=1e-9, atol=1e-12,
                                   err_msg=k)


def test_jax_float64_training_leaves_the_x64_switch_alone():
    jax = pytest.importorskip("jax")
    before = jax.config.jax_enable_x64
    x, z, m = batch(seed=2)
    loss, _, _ = make_engine("jax", MODEL.config, "float64").loss_and_grads(
        MODEL.init_params(3), x, z, m)
    assert np.isfinite(loss).all() and jax.config.jax_enable_x64 == before
    assert jax.numpy.zeros(1).dtype == (jax.numpy.float64 if before else jax.numpy.float32)
