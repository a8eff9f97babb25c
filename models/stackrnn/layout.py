"""Where things live: parameter names and shapes, trace names and stage order, and
validation of user-supplied arrays (STACKS.md Part 2).

Parameters (matrices [out, in], as torch.nn.Linear), in this order:

====================  ==============  ==========================================
``U``                 [H, V]          input symbol -> hidden
``R``                 [H, H]          h_{t-1} -> hidden (the recurrence)
``P``                 [K, H, k]       top k rows of stack s -> hidden
``bias.hidden``       [H]             hidden bias (the spec leaves biases open)
``A``                 [K, actions, H] hidden -> action scores of stack s
``bias.action``       [K, actions]    action bias
``D``                 [K, H]          hidden -> push value of stack s
``bias.push``         [K]             push-value bias
``V``                 [V, H]          hidden -> symbol scores
``bias.output``       [V]             output bias
====================  ==============  ==========================================

Stages of one step (``Stage.number`` orders them; the harness localises a bug to the
first stage whose trace entry diverges, earliest step first):

1. ``hidden``  : ``hidden`` [H], h_t from x_t, h_{t-1} and s_{t-1}[0:k];
2. ``actions`` : ``action`` [K, actions] (softmax over the actions) and ``push_value``
   [K] (sigmoid of the clipped pre-activation);
3. ``stack``   : ``stack`` [K, D], s_t;
4. ``logits``  : ``logits`` [V], V h_t + bias (the softmax is in the loss).

Entries with the K axis after T carry ``heads="stack"``.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.family import Stage, TraceEntry

from .config import StackRNNConfig

HIDDEN, ACTIONS, STACK, LOGITS = (Stage(1, "hidden"), Stage(2, "actions"), Stage(3, "stack"),
                                  Stage(4, "logits"))


def param_shapes(cfg: StackRNNConfig) -> dict:
    """Parameter name -> shape, in the table order above."""
    V, H, K, k, A = cfg.V, cfg.H, cfg.K, cfg.k, cfg.A
    return {
        "U": (H, V),
        "R": (H, H),
        "P": (K, H, k),
        "bias.hidden": (H,),
        "A": (K, A, H),
        "bias.action": (K, A),
        "D": (K, H),
        "bias.push": (K,),
        "V": (V, H),
        "bias.output": (V,),
    }


def trace_entries(cfg: StackRNNConfig) -> list:
    """The trace names in stage order."""
    return [TraceEntry("hidden", HIDDEN, None),
            TraceEntry("action", ACTIONS, "stack"),
            TraceEntry("push_value", ACTIONS, "stack"),
            TraceEntry("stack", STACK, "stack"),
            TraceEntry("logits", LOGITS, None)]


def trace_shapes(cfg: StackRNNConfig, steps: int | None = None) -> dict:
    """Trace name -> per-step shape (no B, no T).  The stack has a fixed depth D, so the
    shapes do not depend on ``steps``."""
    return {"hidden": (cfg.H,), "action": (cfg.K, cfg.A), "push_value": (cfg.K,),
            "stack": (cfg.K, cfg.D), "logits": (cfg.V,)}


# ---------------------------------------------------------------- validation

def _as_float_array(name, value):
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name}: expected a numeric array, could not convert "
                         f"{type(value).__name__}: {exc}") from None
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
            or arr.dtype == np.bool_):
        raise ValueError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    return arr


def _check_finite(name, arr):
    bad = ~np.isfinite(arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: expected finite values, found {arr[where]} at index "
                         f"{where} ({int(bad.sum())} non-finite in all)")


def validate_params(params, cfg: StackRNNConfig) -> dict:
    """Check names, shapes and finiteness; returns a dict of numpy arrays."""
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of name -> array, got {type(params).__name__}")
    shapes = param_shapes(cfg)
    unknown = sorted(set(params) - set(shapes))
    missing = [k for k in shapes if k not in params]
    if unknown or missing:
        raise ValueError(f"params: unknown name(s) {unknown}, missing name(s) {missing}; "
                         f"expected exactly {list(shapes)}")
    out = {}
    for name, shape in shapes.items():
        arr = _as_float_array(f"params[{name!r}]", params[name])
        if arr.shape != shape:
            raise ValueError(f"params[{name!r}]: expected shape {shape} for this config, "
                             f"got {arr.shape}")
        _check_finite(f"params[{name!r}]", arr)
        out[name] = arr
    return out


def validate_data(cfg: StackRNNConfig, inputs, targets, mask):
    """Check inputs [B, T, V], targets [B, T, V], mask [B, T] (finite, mask >= 0)."""
    inputs = _as_float_array("inputs", inputs)
    targets = _as_float_array("targets", targets)
    mask = _as_float_array("mask", mask)
    for name, arr in (("inputs", inputs), ("targets", targets)):
        if arr.ndim != 3 or arr.shape[-1] != cfg.V:
            raise ValueError(f"{name}: expected shape [B, T, V={cfg.V}], got {arr.shape}")
    if mask.ndim != 2:
        raise ValueError(f"mask: expected shape [B, T], got {mask.shape}")
    if targets.shape[:-1] != inputs.shape[:-1] or mask.shape != inputs.shape[:-1]:
        raise ValueError(f"inputs {inputs.shape}, targets {targets.shape} and mask {mask.shape}: "
                         f"expected the same leading [B, T] axes")
    if inputs.shape[0] < 1 or inputs.shape[1] < 1:
        raise ValueError(f"inputs: expected at least one sequence of at least one step, "
                         f"got shape {inputs.shape}")
    for name, arr in (("inputs", inputs), ("targets", targets), ("mask", mask)):
        _check_finite(name, arr)
    if (mask < 0).any():
        raise ValueError("mask: expected non-negative weights, found a negative entry at "
                         f"{tuple(int(i) for i in np.argwhere(mask < 0)[0])}")
    return inputs, targets, mask
