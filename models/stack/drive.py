"""Running the batched form through the bundled torch and JAX drivers, with results shaped
like the reference's ``run_batch`` (numpy; logits, loss, trace, grads summed over the
batch, grad_inputs).  For tests and quick checks; the harness has its own backends.

Both use the drivers' own ``forward`` / ``sequence_loss`` (backends/torch/driver.py,
backends/jax/driver.py) with a model whose ``capacity`` is the number of steps, since the
drivers call ``initial_state(params, batch)`` without it.  float64 and float32 only.
"""

from __future__ import annotations

import numpy as np

from .batched import BatchedStack

DTYPES = ("float64", "float32")


def _check(dtype):
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")


def run_torch(cfg, params, inputs, targets, mask, *, model_cls=BatchedStack, dtype="float64"):
    """The batched form on torch (CPU), gradients by torch.autograd."""
    import torch

    from diffmem.backends.torch.driver import forward
    from diffmem.backends.torch.ops import TorchOps

    _check(dtype)
    tdtype = getattr(torch, dtype)
    model = model_cls(TorchOps(), cfg, capacity=inputs.shape[1])
    p = {k: torch.tensor(np.asarray(v), dtype=tdtype, requires_grad=True)
         for k, v in params.items()}
    x = torch.tensor(np.asarray(inputs), dtype=tdtype, requires_grad=True)
    y, m = (torch.tensor(np.asarray(a), dtype=tdtype) for a in (targets, mask))
    logits, trace = forward(model, p, x, want_trace=True)
    loss = model.loss(logits, y, m)
    names = list(p)
    g = torch.autograd.grad(loss.sum(), [p[k] for k in names] + [x], allow_unused=True)

    def numpy(t, like):
        return np.zeros(tuple(like.shape), dtype=dtype) if t is None else t.detach().numpy()

    return {"logits": logits.detach().numpy(), "loss": loss.detach().numpy(),
            "trace": {k: v.numpy() for k, v in trace.items()},
            "grads": {k: numpy(gk, p[k]) for k, gk in zip(names, g[:-1])},
            "grad_inputs": numpy(g[-1], x)}


_JAX_PROGRAMS = {}   # (model_cls, cfg, shapes, dtype) -> jitted program: one compile per shape


def run_jax(cfg, params, inputs, targets, mask, *, model_cls=BatchedStack, dtype="float64"):
    """The batched form on JAX (CPU): the driver's scan under ``jit``, ``jax.value_and_grad``."""
    import jax
    import jax.numpy as jnp

    from diffmem.backends.jax.driver import forward, precision
    from diffmem.backends.jax.ops import xp

    _check(dtype)
    key = (model_cls, cfg, tuple(np.shape(inputs)), dtype)
    if key not in _JAX_PROGRAMS:
        model = model_cls(xp, cfg, capacity=inputs.shape[1])

        def total(p, x, y, m):
            logits, trace = forward(model, p, x, want_trace=True)
            loss = model.loss(logits, y, m)
            return jnp.sum(loss), (loss, logits, trace)

        _JAX_PROGRAMS[key] = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))
    with precision(dtype):
        args = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a), dtype=dtype),
                                      (dict(params), inputs, targets, mask))
        (_, (loss, logits, trace)), (grads, grad_inputs) = jax.device_get(
            _JAX_PROGRAMS[key](*args))
    return {"logits": np.asarray(logits), "loss": np.asarray(loss),
            "trace": {k: np.asarray(v) for k, v in trace.items()},
            "grads": {k: np.asarray(v) for k, v in grads.items()},
            "grad_inputs": np.asarray(grad_inputs)}
