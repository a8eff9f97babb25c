"""Where things live (DNC.md): parameter names and shapes, the interface's layout, the
trace's names, stages and shapes, and validation of user-supplied arrays.

Shared by the reference and the batched form, so a change of layout happens once.
``split_interface`` uses only slicing and ``reshape``, which numpy, autograd, JAX and
torch arrays share.
"""

from __future__ import annotations

from diffmem.models.controller import controller_shapes
from diffmem.models.family import Stage, TraceEntry
from diffmem.reference import validate

from .config import DNCConfig

# DNC.md's stage order, numbered as its trace table numbers it.
CONTROLLER = Stage(1, "controller")
INTERFACE = Stage(2, "interface")
ACTIVATIONS = Stage(3, "activations")
USAGE = Stage(4, "usage")
ALLOCATION = Stage(5, "allocation")
WRITE_CONTENT = Stage(6, "write content")
WRITE_WEIGHT = Stage(7, "write weight")
MEMORY = Stage(8, "memory")
LINK = Stage(9, "link")
PRECEDENCE = Stage(10, "precedence")
DIRECTIONS = Stage(11, "directional weightings")
READ_CONTENT = Stage(12, "read content")
READ_WEIGHT = Stage(13, "read weight")
READS = Stage(14, "reads")
LOGITS = Stage(15, "logits")
STAGES = (CONTROLLER, INTERFACE, ACTIVATIONS, USAGE, ALLOCATION, WRITE_CONTENT, WRITE_WEIGHT,
          MEMORY, LINK, PRECEDENCE, DIRECTIONS, READ_CONTENT, READ_WEIGHT, READS, LOGITS)

READ_MODES = ("backward", "content", "forward")   # pi^i[0], pi^i[1], pi^i[2] (the paper's)


# ---------------------------------------------------------------- parameters

def param_shapes(cfg: DNCConfig) -> dict:
    """Parameter name -> shape, in DNC.md's table order (matrices [out, in]; the
    controller reads [x_t ; r^1_{t-1} ; ... ; r^R_{t-1}], the LSTM also h_{t-1})."""
    X, Y, H, N, W, R = cfg.X, cfg.Y, cfg.H, cfg.N, cfg.W, cfg.R
    return {
        **controller_shapes(cfg.controller, X + R * W, H),
        "interface.weight": (cfg.I, H),
        "interface.bias": (cfg.I,),
        "output.weight": (Y, H + R * W),
        "output.bias": (Y,),
        "init.memory": (N, W),
        "init.read": (R, W),
    }


# ---------------------------------------------------------------- interface

def interface_fields(cfg: DNCConfig) -> list:
    """[(trace name, start, length, shape)] of the interface xi in the paper's order;
    ``shape`` is the field's per-step shape (read-head arrays head-major, ``write.*``
    and the write's gates with a write-head axis of 1)."""
    R, W = cfg.R, cfg.W
    fields = [("read.key", (R, W)), ("read.strength", (R,)), ("write.key", (1, W)),
              ("write.strength", (1,)), ("write.erase", (1, W)), ("write.vector", (1, W)),
              ("free_gate", (R,)), ("allocation_gate", (1,)), ("write_gate", (1,)),
              ("read.mode", (R, 3))]
    out, start = [], 0
    for name, shape in fields:
        length = 1
        for n in shape:
            length *= n
        out.append((name, start, length, shape))
        start += length
    assert start == cfg.I
    return out


def field_range(cfg: DNCConfig, name: str) -> tuple:
    """(start, stop) of one interface field."""
    for field, start, length, _ in interface_fields(cfg):
        if field == name:
            return start, start + length
    raise ValueError(f"interface field: expected one of "
                     f"{[f for f, *_ in interface_fields(cfg)]}, got {name!r}")


def split_interface(xi, cfg: DNCConfig) -> dict:
    """xi [..., I] -> {trace name: raw pre-activation [..., *shape]}."""
    lead = tuple(xi.shape[:-1])
    return {name: xi[..., start:start + length].reshape(lead + shape)
            for name, start, length, shape in interface_fields(cfg)}


# ---------------------------------------------------------------- trace

def trace_entries(cfg: DNCConfig) -> list:
    """DNC.md's trace names in stage order (within a stage in the table's order); the
    head axis says what the axis after T indexes: "read" (R) or "write" (1)."""
    entries = [TraceEntry("controller", CONTROLLER, None)]
    if cfg.controller == "lstm":
        entries.append(TraceEntry("controller_cell", CONTROLLER, None))
    entries.append(TraceEntry("interface", INTERFACE, None))
    for name in ("read.key", "read.strength", "read.mode", "free_gate", "write.key",
                 "write.strength", "write.erase", "write.vector", "allocation_gate",
                 "write_gate"):
        entries.append(TraceEntry(name, ACTIVATIONS,
                                  "read" if name.startswith("read") or name == "free_gate"
                                  else "write"))
    entries += [
        TraceEntry("retention", USAGE, None), TraceEntry("usage", USAGE, None),
        TraceEntry("allocation.order", ALLOCATION, None),
        TraceEntry("allocation", ALLOCATION, None),
        TraceEntry("write.content", WRITE_CONTENT, "write"),
        TraceEntry("write.weight", WRITE_WEIGHT, "write"),
        TraceEntry("memory", MEMORY, None),
        TraceEntry("link", LINK, None),
        TraceEntry("precedence", PRECEDENCE, None),
        TraceEntry("read.forward", DIRECTIONS, "read"),
        TraceEntry("read.backward", DIRECTIONS, "read"),
        TraceEntry("read.content", READ_CONTENT, "read"),
        TraceEntry("read.weight", READ_WEIGHT, "read"),
        TraceEntry("reads", READS, "read"),
        TraceEntry("logits", LOGITS, None),
    ]
    return entries


def trace_shapes(cfg: DNCConfig, steps: int | None = None) -> dict:
    """Trace name -> per-step shape (no B, no T; the same for any ``steps``)."""
    H, N, W, R = cfg.H, cfg.N, cfg.W, cfg.R
    fields = {name: shape for name, _, _, shape in interface_fields(cfg)}
    fixed = {"controller": (H,), "controller_cell": (H,), "interface": (cfg.I,),
             "retention": (N,), "usage": (N,), "allocation.order": (N,), "allocation": (N,),
             "write.content": (1, N), "write.weight": (1, N), "memory": (N, W),
             "link": (N, N), "precedence": (N,), "read.forward": (R, N),
             "read.backward": (R, N), "read.content": (R, N), "read.weight": (R, N),
             "reads": (R, W), "logits": (cfg.Y,)}
    return {e.name: fields.get(e.name, fixed.get(e.name)) for e in trace_entries(cfg)}


# ---------------------------------------------------------------- validation

def validate_params(params, cfg: DNCConfig) -> dict:
    """Check names, shapes and finiteness; returns a dict of numpy arrays."""
    return validate.validate_params(params, param_shapes(cfg))


def validate_data(cfg: DNCConfig, inputs, targets, mask, *, batched: bool = True):
    """inputs [B, T, X], targets [B, T, Y], mask [B, T], finite, mask >= 0."""
    return validate.validate_data(cfg.X, cfg.Y, inputs, targets, mask, batched=batched)
