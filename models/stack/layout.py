"""Where things live (STACKS.md Part 1): parameter names and shapes, the interface's
layout, trace names, stage order and shapes, and the row layout of the padded traces.

Shared by the reference and the batched form, so a change of layout happens once.
``split_interface`` uses only slicing, which numpy, autograd, JAX and torch arrays share.

Row layout of the ``strength`` trace (per step, padded with zeros):

- stack and queue: T entries; at step t (1-based) entry i-1 holds s_t[i] for the rows
  i = 1..t (row 1 the bottom / oldest), entries t..T-1 are 0.
- deque: 2T entries, rows growing from the middle, which is how the batched form stores
  them (so that nothing moves when both ends push): at step t entry T - t + k - 1 holds
  s_t[k] for the rows k = 1..2t of the spec's step-t numbering (k = 1 the bottom), the
  entries before T - t and from T + t on are 0.  Step 1's bottom row is entry T - 1, its
  top row entry T; each step adds one entry below and one above.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.controller import controller_shapes
from diffmem.models.family import Stage, TraceEntry
from diffmem.reference import validate

from .config import StackConfig

CONTROLLER = Stage(1, "controller")
INTERFACE = Stage(2, "interface")
ACTIVATIONS = Stage(3, "activations")
STRENGTHS = Stage(4, "strengths")
READ = Stage(5, "read")
LOGITS = Stage(6, "logits")
STAGES = (CONTROLLER, INTERFACE, ACTIVATIONS, STRENGTHS, READ, LOGITS)

ENDS = ("top", "bottom")   # the deque's ends, in the spec's interface order


# ---------------------------------------------------------------- parameters

def read_size(cfg: StackConfig) -> int:
    """Width of the reads fed to the controller and the output: m, deque 2m."""
    return cfg.ends * cfg.m


def interface_size(cfg: StackConfig) -> int:
    """stack / queue: 2 + m; deque: 4 + 2m."""
    return cfg.ends * (2 + cfg.m)


def param_shapes(cfg: StackConfig) -> dict:
    """Parameter name -> shape, matrices [out, in] as NTM.md (controller input
    [x ; r_{t-1}], deque [x ; r^top ; r^bot]; LSTM gates i, f, g, o on [u ; h_{t-1}])."""
    X, Y, H, m = cfg.X, cfg.Y, cfg.H, cfg.m
    return {
        **controller_shapes(cfg.controller, X + read_size(cfg), H),
        "interface.weight": (interface_size(cfg), H),
        "interface.bias": (interface_size(cfg),),
        "output.weight": (Y, H + read_size(cfg)),
        "output.bias": (Y,),
        "init.read": (m,) if cfg.model != "deque" else (2, m),   # deque: row 0 top, 1 bottom
    }


# ---------------------------------------------------------------- interface

def interface_fields(cfg: StackConfig) -> list:
    """[(name, start, width)] of the interface in the spec's order; width 1 fields are
    scalars.  stack / queue: push (d^), pop (u^), value (v^); deque: push.top,
    push.bottom, pop.top, pop.bottom, value.top, value.bottom."""
    if cfg.model != "deque":
        names = [("push", 1), ("pop", 1), ("value", cfg.m)]
    else:
        names = [("push.top", 1), ("push.bottom", 1), ("pop.top", 1), ("pop.bottom", 1),
                 ("value.top", cfg.m), ("value.bottom", cfg.m)]
    out, start = [], 0
    for name, width in names:
        out.append((name, start, width))
        start += width
    return out


def split_interface(xi, cfg: StackConfig) -> dict:
    """xi [..., I] -> {field: raw pre-activation}: push / pop as [...], value as [..., m]."""
    raw = {}
    for name, start, width in interface_fields(cfg):
        raw[name] = xi[..., start] if not name.startswith("value") \
            else xi[..., start:start + width]
    return raw


# ---------------------------------------------------------------- trace

def trace_entries(cfg: StackConfig) -> list:
    """The trace names in stage order (within a stage in the spec's order)."""
    entries = [TraceEntry("controller", CONTROLLER, None)]
    if cfg.controller == "lstm":
        entries.append(TraceEntry("controller_cell", CONTROLLER, None))
    entries.append(TraceEntry("interface", INTERFACE, None))
    entries += [TraceEntry(name, ACTIVATIONS, None) for name, _, _ in interface_fields(cfg)]
    entries.append(TraceEntry("strength", STRENGTHS, None))
    reads = ["read"] if cfg.model != "deque" else ["read.top", "read.bottom"]
    entries += [TraceEntry(name, READ, None) for name in reads]
    entries.append(TraceEntry("logits", LOGITS, None))
    return entries


def trace_shapes(cfg: StackConfig, steps: int) -> dict:
    """Trace name -> per-step shape (no B, no T); the strengths padded to T rows (deque 2T)."""
    shapes = {}
    for e in trace_entries(cfg):
        if e.name in ("controller", "controller_cell"):
            shapes[e.name] = (cfg.H,)
        elif e.name == "interface":
            shapes[e.name] = (interface_size(cfg),)
        elif e.name.startswith(("push", "pop")):
            shapes[e.name] = ()
        elif e.name.startswith(("value", "read")):
            shapes[e.name] = (cfg.m,)
        elif e.name == "strength":
            shapes[e.name] = (steps * cfg.ends,)
        else:
            shapes[e.name] = (cfg.Y,)
    return shapes


def trace_rows(cfg: StackConfig, t: int, steps: int) -> np.ndarray:
    """Entries of the padded strength trace that hold the rows 1..t (stack, queue) or
    1..2t (deque) at step t (1-based), in row order (see the module docstring)."""
    if cfg.model != "deque":
        return np.arange(t)
    return np.arange(steps - t, steps + t)


# ---------------------------------------------------------------- validation

def validate_params(params, cfg: StackConfig) -> dict:
    """Check names, shapes and finiteness; returns a dict of numpy arrays."""
    return validate.validate_params(params, param_shapes(cfg))


def validate_data(cfg: StackConfig, inputs, targets, mask, *, batched: bool = True):
    """inputs [B, T, X], targets [B, T, Y], mask [B, T], finite, mask >= 0."""
    return validate.validate_data(cfg.X, cfg.Y, inputs, targets, mask, batched=batched)
