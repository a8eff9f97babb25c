"""Helpers for the Stack-RNN tests: run a batched form through the bundled torch and JAX
drivers and return a dict shaped like the reference's run_batch."""

import numpy as np
import pytest


def run_torch(model_cls, cfg, params, inputs, targets, mask, dtype="float64"):
    import torch

    from diffmem.backends.torch import driver
    from diffmem.backends.torch.ops import TorchOps
    tdtype = getattr(torch, dtype)
    model = model_cls(TorchOps(), cfg)
    p = {k: torch.tensor(np.asarray(v), dtype=tdtype, requires_grad=True)
         for k, v in params.items()}
    x = torch.tensor(np.asarray(inputs), dtype=tdtype, requires_grad=True)
    y, m = (torch.tensor(np.asarray(a), dtype=tdtype) for a in (targets, mask))
    logits, trace = driver.forward(model, p, x, want_trace=True)
    loss = model.loss(logits, y, m)
    names = list(p)
    g = torch.autograd.grad(loss.sum(), [p[k] for k in names] + [x], allow_unused=True)
    zeros = lambda t: np.zeros(tuple(t.shape))   # a parameter a (buggy) model never touches
    return {"logits": logits.detach().numpy(), "loss": loss.detach().numpy(),
            "trace": {k: v.numpy() for k, v in trace.items()},
            "grads": {k: (gk.numpy() if gk is not None else zeros(p[k]))
                      for k, gk in zip(names, g[:-1])},
            "grad_inputs": g[-1].numpy()}


def run_jax(model_cls, cfg, params, inputs, targets, mask, dtype="float64"):
    import jax
    import jax.numpy as jnp

    from diffmem.backends.jax import driver
    from diffmem.backends.jax.ops import xp
    with jax.enable_x64(dtype == "float64"):
        model = model_cls(xp, cfg)
        cast = lambda a: jnp.asarray(np.asarray(a), dtype=dtype)
        p = {k: cast(v) for k, v in params.items()}
        x, y, m = cast(inputs), cast(targets), cast(mask)

        def total(p, x):
            # remat off: the same values, and a smaller program to compile.
            logits, trace = driver.forward(model, p, x, want_trace=True, remat=False)
            loss = model.loss(logits, y, m)
            return jnp.sum(loss), (logits, loss, trace)

        (_, (logits, loss, trace)), (grads, gx) = jax.jit(jax.value_and_grad(
            total, argnums=(0, 1), has_aux=True))(p, x)
        return jax.tree_util.tree_map(np.asarray, {
            "logits": logits, "loss": loss, "trace": dict(trace), "grads": dict(grads),
            "grad_inputs": gx})


@pytest.fixture
def drivers():
    return {"torch": run_torch, "jax": run_jax}
