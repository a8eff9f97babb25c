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
from diffmem.reference import validate

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

def validate_params(params, cfg: StackRNNConfig) -> dict:
    """Check names, shapes and finiteness; returns a dict of numpy arrays."""
    return validate.validate_params(params, param_shapes(cfg))


def validate_data(cfg: StackRNNConfig, inputs, targets, mask):
    """Check inputs [B, T, V], targets [B, T, V], mask [B, T] (finite, mask >= 0)."""
    return validate.validate_data(cfg.V, cfg.V, inputs, targets, mask, batched=True)
