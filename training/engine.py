"""Training engines: the loss and its gradient of one batch, computed in-framework.

An engine has ``loss_and_grads(params, inputs, targets, mask) -> (loss [B], logits
[B, T, Y], grads)`` taking and returning numpy arrays; ``grads`` is the gradient of the
*mean* per-sequence loss over the batch (so the step size does not grow with the batch).

The math is the family's batched form (``models/<family>/batched.py``) run by the same
drivers the harness checks (``diffmem.backends.torch.forward``: torch.autograd over a
Python loop in time; ``diffmem.backends.jax.forward``: ``jax.value_and_grad`` over
``lax.scan`` under ``jit``, in the driver's precision context, so float64 never flips
JAX's process-wide x64 switch), or the frozen reference itself for tiny runs.  Only the
parameters cross to numpy and back each step: the optimizer is one numpy implementation
shared by every engine (``optim.py``).
"""

import numpy as np

from diffmem.models import bind

ENGINES = ("torch", "jax", "reference")


def _bucket(T, size=16):
    # JAX compiles once per shape; padding T up to a multiple of `size` (zero inputs,
    # targets and mask, which cannot change earlier steps: TASKS.md) keeps compiles few.
    return -(-T // size) * size


class TorchEngine:
    name = "torch"

    def __init__(self, cfg, dtype="float32", device="cpu"):
        import torch
        from diffmem.backends.torch import forward, make_model
        self.torch, self.forward = torch, forward
        self.dtype = getattr(torch, dtype)
        self.device = torch.device(device)
        self.model = make_model(cfg, device, dtype=dtype)

    def loss_and_grads(self, params, inputs, targets, mask):
        torch = self.torch
        tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)
        p = {k: tensor(v).requires_grad_(True) for k, v in params.items()}
        x, z, m = tensor(inputs), tensor(targets), tensor(mask)
        logits, _ = self.forward(self.model, p, x)
        loss = self.model.loss(logits, z, m)
        loss.mean().backward()
        grads = {k: v.grad.detach().cpu().numpy().astype(np.float64) for k, v in p.items()}
        return loss.detach().cpu().numpy().astype(np.float64), \
            logits.detach().cpu().numpy().astype(np.float64), grads


class JaxEngine:
    name = "jax"

    def __init__(self, cfg, dtype="float32", device="cpu"):
        import jax
        import jax.numpy as jnp
        from diffmem.backends.jax import forward, make_model, precision
        self.jnp, self.dtype, self.precision = jnp, dtype, precision
        self.model = make_model(cfg, dtype=dtype)
        # JAX places arrays on its default device (a GPU when jax[cuda] is installed).

        def losses(p, x, z, m):
            logits, _ = forward(self.model, p, x)
            loss = self.model.loss(logits, z, m)
            return loss.mean(), (loss, logits)

        self._step = jax.jit(jax.value_and_grad(losses, has_aux=True))

    def loss_and_grads(self, params, inputs, targets, mask):
        jnp = self.jnp
        B, T = np.shape(mask)
        pad = _bucket(T) - T
        widths = lambda a: ((0, 0), (0, pad)) + ((0, 0),) * (np.ndim(a) - 2)
        # float64 inside the driver's context only (x64 on for this call, restored after).
        with self.precision(self.dtype):
            x, z, m = (jnp.asarray(np.pad(np.asarray(a), widths(a)), dtype=self.dtype)
                       for a in (inputs, targets, mask))
            p = {k: jnp.asarray(v, dtype=self.dtype) for k, v in params.items()}
            (_, (loss, logits)), grads = self._step(p, x, z, m)
            return np.asarray(loss, np.float64), np.asarray(logits, np.float64)[:, :T], \
                {k: np.asarray(v, np.float64) for k, v in grads.items()}


class ReferenceEngine:
    """The frozen reference (float64, one sequence at a time): exact, slow."""
    name = "reference"

    def __init__(self, cfg, dtype="float64", device="cpu"):
        self.cfg, self.dtype = cfg, dtype

    def loss_and_grads(self, params, inputs, targets, mask):
        out = bind(self.cfg).run_reference(params, inputs, targets, mask, dtype=self.dtype,
                                           want_trace=False, want_grads=True)
        B = out["loss"].shape[0]
        return out["loss"].astype(np.float64), out["logits"].astype(np.float64), \
            {k: v / B for k, v in out["grads"].items()}


def make_engine(name, cfg, dtype=None, device="cpu"):
    """An engine by name: 'torch' or 'jax' (float32 by default) or 'reference' (float64)."""
    classes = {"torch": TorchEngine, "jax": JaxEngine, "reference": ReferenceEngine}
    if name not in classes:
        raise ValueError(f"backend: expected one of {ENGINES} for training, got {name!r}")
    if dtype is None:
        dtype = "float64" if name == "reference" else "float32"
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    engine = classes[name](cfg, dtype=dtype, device=device)
    engine.dtype_name = dtype
    return engine
