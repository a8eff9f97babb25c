"""The toy family's config, reference and batched form (SPEC.md)."""

from __future__ import annotations

import dataclasses

import autograd.numpy as anp
import numpy as np
from autograd import value_and_grad

from diffmem.models import Stage, TraceEntry
from diffmem.models.family import check_fields

SPEC_VERSION = "toy/1"
HIDDEN, LOGITS = Stage(1, "hidden"), Stage(2, "logits")
REGIMES = ("init", "sharp")


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    input_size: int
    output_size: int
    hidden_size: int = 4
    model: str = "toy"

    def __post_init__(self):
        for name in ("input_size", "output_size", "hidden_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ToyConfig.{name}: expected an integer >= 1, got {value!r}")
        if self.model != "toy":
            raise ValueError(f"ToyConfig.model: expected 'toy', got {self.model!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        check_fields(cls, d, ("input_size", "output_size"))
        return cls(**d)


def param_shapes(cfg):
    H, X, Y = cfg.hidden_size, cfg.input_size, cfg.output_size
    return {"W": (H, X), "a": (H,), "b": (H,), "V": (Y, H), "c": (Y,)}


def trace_entries(cfg):
    return [TraceEntry("hidden", HIDDEN, None), TraceEntry("logits", LOGITS, None)]


def trace_shapes(cfg, steps):
    return {"hidden": (cfg.hidden_size,), "logits": (cfg.output_size,)}


def init_params(cfg, seed, regime="init"):
    """Normal(0, 0.5) weights; ``sharp`` scales them by 4 (tanh near saturation)."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    rng = np.random.default_rng(seed)
    scale = 0.5 if regime == "init" else 2.0
    return {k: rng.normal(0.0, scale, s) for k, s in param_shapes(cfg).items()}


def _sequence_loss(p, x, z, m, keep):
    h, total = anp.zeros(p["b"].shape[0], x.dtype), 0.0
    for t in range(x.shape[0]):
        h = anp.tanh(p["W"] @ x[t] + p["a"] * h + p["b"])
        y = p["V"] @ h + p["c"]
        total = total + m[t] * anp.sum(anp.logaddexp(y, 0.0) - z[t] * y)
        keep.append((h, y))
    return total


def run_reference(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
                  want_grads=True):
    """SPEC.md one sequence at a time, autograd for the gradients."""
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype: the toy reference runs float64 and float32, got {dtype!r}")
    params = {k: np.asarray(v, dtype) for k, v in params.items()}
    logits, losses, hidden, grad_inputs = [], [], [], []
    grads = {k: np.zeros(np.shape(v), dtype) for k, v in params.items()}
    for b in range(inputs.shape[0]):
        x, z, m = (np.asarray(a[b], dtype) for a in (inputs, targets, mask))
        keep = []
        loss, (g, gx) = value_and_grad(
            lambda p, x_: _sequence_loss(p, x_, z, m, keep), argnum=(0, 1))(params, x)
        hidden.append(np.stack([np.asarray(getattr(h, "_value", h)) for h, _ in keep]))
        logits.append(np.stack([np.asarray(getattr(y, "_value", y)) for _, y in keep]))
        losses.append(loss)
        grads = {k: grads[k] + g[k] for k in grads}
        grad_inputs.append(gx)
    logits = np.stack(logits).astype(dtype)
    return {"logits": logits, "loss": np.asarray(losses, dtype),
            "trace": {"hidden": np.stack(hidden).astype(dtype), "logits": logits}
            if want_trace else None,
            "grads": grads if want_grads else None,
            "grad_inputs": np.stack(grad_inputs).astype(dtype) if want_grads else None}


class BatchedToy:
    """SPEC.md over a batch, on any diffmem ops table."""
    OPS = frozenset({"zeros_like_shape", "tanh", "sum", "softplus"})

    def __init__(self, xp, cfg):
        self.xp, self.cfg = xp, cfg

    def initial_state(self, params, batch, steps=None):
        return {"h": self.xp.zeros_like_shape(params["b"], (batch, self.cfg.hidden_size))}

    def hidden(self, params, x, h):
        return self.xp.tanh(x @ params["W"].mT + params["a"] * h + params["b"])

    def logits(self, params, h):
        return h @ params["V"].mT + params["c"]

    def step(self, params, state, x):
        h = self.hidden(params, x, state["h"])
        y = self.logits(params, h)
        return {"h": h}, {"hidden": h, "logits": y}

    def loss(self, logits, targets, mask):
        xp = self.xp
        return xp.sum(mask * xp.sum(xp.softplus(logits) - targets * logits, axis=-1), axis=-1)
