"""Where things live: parameter names and shapes, the interface vector's layout, the
trace's names and stage order, and validation of user-supplied arrays (NTM.md).

This is the single shared module that the reference and every backend use, so a
change of layout happens once.  ``split_interface`` uses only slicing and ``reshape``,
which numpy, autograd, JAX and PyTorch arrays all share.
"""

from __future__ import annotations

from diffmem.models.controller import controller_shapes
from diffmem.models.family import Stage, TraceEntry
from diffmem.reference import validate

from .config import NTMConfig

# ---------------------------------------------------------------- parameters

def param_shapes(cfg: NTMConfig) -> dict:
    """Parameter name -> shape, in NTM.md's table order (matrices are [out, in])."""
    X, Y, H, N, M, R, Wh = cfg.X, cfg.Y, cfg.H, cfg.N, cfg.M, cfg.R, cfg.Wh
    return {
        **controller_shapes(cfg.controller, X + R * M, H),
        "interface.weight": (interface_size(cfg), H),
        "interface.bias": (interface_size(cfg),),
        "output.weight": (Y, H + R * M),
        "output.bias": (Y,),
        "init.memory": (N, M),
        "init.read": (R, M),
        "init.read_logits": (R, N),
        "init.write_logits": (Wh, N),
    }


# ---------------------------------------------------------------- interface

SCALAR_FIELDS = ("beta", "gate", "gamma")   # one number per head: no width axis


def head_fields(cfg: NTMConfig, kind: str) -> list:
    """[(field, width)] of one head's slice of the interface, in layout order."""
    fields = [("key", cfg.M), ("beta", 1), ("gate", 1), ("shift", cfg.S), ("gamma", 1)]
    if kind == "write":
        fields += [("erase", cfg.M), ("add", cfg.M)]
    return fields


def head_size(cfg: NTMConfig, kind: str) -> int:
    return sum(width for _, width in head_fields(cfg, kind))


def interface_size(cfg: NTMConfig) -> int:
    """I = Wh*(3M + S + 3) + R*(M + S + 3)."""
    return cfg.Wh * head_size(cfg, "write") + cfg.R * head_size(cfg, "read")


def split_interface(xi, cfg: NTMConfig):
    """Cut the interface xi [..., I] into raw (pre-activation) head fields.

    Returns ``(write, read)``: dicts field -> array with the heads on the axis after
    the leading ones: width-1 fields (beta, gate, gamma) as [..., heads], the others
    as [..., heads, width].  Write heads come first in xi, then read heads.
    """
    lead = tuple(xi.shape[:-1])
    out = []
    start = 0
    for kind, heads in (("write", cfg.Wh), ("read", cfg.R)):
        size = head_size(cfg, kind)
        block = xi[..., start:start + heads * size].reshape(lead + (heads, size))
        start += heads * size
        fields, offset = {}, 0
        for name, width in head_fields(cfg, kind):
            # By name, not by width: with M = 1 or S = 1 a key or shift is still a vector.
            fields[name] = block[..., offset] if name in SCALAR_FIELDS \
                else block[..., offset:offset + width]
            offset += width
        out.append(fields)
    return out[0], out[1]


# ---------------------------------------------------------------- trace

# NTM.md's stage order, numbered as NTM.md numbers it.
STAGES = {s.number: s for s in (
    Stage(1, "controller"), Stage(2, "interface"), Stage(3, "write activations"),
    Stage(4, "write content"), Stage(5, "write gate"), Stage(6, "write shift"),
    Stage(7, "write sharpen"), Stage(8, "memory"), Stage(9, "read activations"),
    Stage(10, "read content"), Stage(11, "read gate"), Stage(12, "read shift"),
    Stage(13, "read sharpen"), Stage(14, "reads"), Stage(15, "logits"))}


def trace_entries(cfg: NTMConfig) -> list:
    """The trace names of NTM.md in stage order (ties within a stage in table order)."""
    def entry(name, number, heads=None):
        return TraceEntry(name, STAGES[number], heads)
    entries = [entry("controller", 1)]
    if cfg.controller == "lstm":
        entries.append(entry("controller_cell", 1))
    entries.append(entry("interface", 2))
    for kind, first in (("write", 3), ("read", 9)):
        for name in ("key", "beta", "gate", "shift", "gamma"):
            entries.append(entry(f"{kind}.{name}", first, kind))
        if kind == "write":
            entries += [entry("write.erase", 3, "write"), entry("write.add", 3, "write")]
        for i, name in enumerate(("w_content", "w_gated", "w_shifted", "weight")):
            entries.append(entry(f"{kind}.{name}", first + 1 + i, kind))
        if kind == "write":
            entries.append(entry("memory", 8))
    entries += [entry("reads", 14, "read"), entry("logits", 15)]
    return entries


def trace_shapes(cfg: NTMConfig, steps: int | None = None) -> dict:
    """Trace name -> per-step shape (unbatched, without T; the same for any ``steps``)."""
    H, N, M, R, Wh, S = cfg.H, cfg.N, cfg.M, cfg.R, cfg.Wh, cfg.S
    per_head = {"key": (M,), "beta": (), "gate": (), "shift": (S,), "gamma": (),
                "erase": (M,), "add": (M,), "w_content": (N,), "w_gated": (N,),
                "w_shifted": (N,), "weight": (N,)}
    shapes = {}
    for e in trace_entries(cfg):
        if e.name in ("controller", "controller_cell"):
            shapes[e.name] = (H,)
        elif e.name == "interface":
            shapes[e.name] = (interface_size(cfg),)
        elif e.name == "memory":
            shapes[e.name] = (N, M)
        elif e.name == "reads":
            shapes[e.name] = (R, M)
        elif e.name == "logits":
            shapes[e.name] = (cfg.Y,)
        else:
            kind, field = e.name.split(".")
            shapes[e.name] = ((Wh if kind == "write" else R),) + per_head[field]
    return shapes


# ---------------------------------------------------------------- validation

def validate_params(params, cfg: NTMConfig) -> dict:
    """Check names, shapes and finiteness; returns a dict of numpy arrays."""
    return validate.validate_params(params, param_shapes(cfg))


def validate_data(cfg: NTMConfig, inputs, targets, mask, *, batched: bool):
    """Check inputs [B,]T,X, targets [B,]T,Y, mask [B,]T; returns numpy arrays."""
    return validate.validate_data(cfg.X, cfg.Y, inputs, targets, mask, batched=batched)
