"""Where things live: parameter names and shapes, the interface vector's layout, the
trace's names and stage order, and validation of user-supplied arrays (NTM.md).

This is the single shared module that the reference and every backend use, so a
change of layout happens once.  ``split_interface`` uses only slicing and ``reshape``,
which numpy, autograd, JAX and PyTorch arrays all share.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .config import NTMConfig

# ---------------------------------------------------------------- parameters

def param_shapes(cfg: NTMConfig) -> dict:
    """Parameter name -> shape, in NTM.md's table order (matrices are [out, in])."""
    X, Y, H, N, M, R, Wh = cfg.X, cfg.Y, cfg.H, cfg.N, cfg.M, cfg.R, cfg.Wh
    u = X + R * M
    if cfg.controller == "lstm":
        ctrl_w, ctrl_b = (4 * H, u + H), (4 * H,)
    else:
        ctrl_w, ctrl_b = (H, u), (H,)
    return {
        "controller.weight": ctrl_w,
        "controller.bias": ctrl_b,
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

TraceEntry = namedtuple("TraceEntry", "name stage heads")
TraceEntry.__doc__ = """One trace array: its name, its stage in NTM.md's order, and which
heads sit on the axis after T ("write", "read" or None)."""


def trace_entries(cfg: NTMConfig) -> list:
    """The trace names of NTM.md in stage order (ties within a stage in table order)."""
    entries = [TraceEntry("controller", 1, None)]
    if cfg.controller == "lstm":
        entries.append(TraceEntry("controller_cell", 1, None))
    entries.append(TraceEntry("interface", 2, None))
    for kind, first in (("write", 3), ("read", 9)):
        for name in ("key", "beta", "gate", "shift", "gamma"):
            entries.append(TraceEntry(f"{kind}.{name}", first, kind))
        if kind == "write":
            entries += [TraceEntry("write.erase", 3, "write"), TraceEntry("write.add", 3, "write")]
        for i, name in enumerate(("w_content", "w_gated", "w_shifted", "weight")):
            entries.append(TraceEntry(f"{kind}.{name}", first + 1 + i, kind))
        if kind == "write":
            entries.append(TraceEntry("memory", 8, None))
    entries += [TraceEntry("reads", 14, "read"), TraceEntry("logits", 15, None)]
    return entries


def trace_shapes(cfg: NTMConfig) -> dict:
    """Trace name -> per-step shape (unbatched, without T)."""
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


def validate_params(params, cfg: NTMConfig) -> dict:
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


def validate_data(cfg: NTMConfig, inputs, targets, mask, *, batched: bool):
    """Check inputs [B,]T,X, targets [B,]T,Y, mask [B,]T; returns numpy arrays."""
    lead = "B, T" if batched else "T"
    rank = 2 if batched else 1
    inputs = _as_float_array("inputs", inputs)
    targets = _as_float_array("targets", targets)
    mask = _as_float_array("mask", mask)
    for name, arr, width, w_name in (("inputs", inputs, cfg.X, "X"),
                                     ("targets", targets, cfg.Y, "Y")):
        if arr.ndim != rank + 1 or arr.shape[-1] != width:
            raise ValueError(f"{name}: expected shape [{lead}, {w_name}={width}], got {arr.shape}")
    if mask.ndim != rank:
        raise ValueError(f"mask: expected shape [{lead}], got {mask.shape}")
    if targets.shape[:-1] != inputs.shape[:-1] or mask.shape != inputs.shape[:-1]:
        raise ValueError(f"inputs {inputs.shape}, targets {targets.shape} and mask {mask.shape}: "
                         f"expected the same leading [{lead}] axes")
    if inputs.shape[rank - 1] < 1 or (batched and inputs.shape[0] < 1):
        raise ValueError(f"inputs: expected at least one sequence of at least one step, "
                         f"got shape {inputs.shape}")
    for name, arr in (("inputs", inputs), ("targets", targets), ("mask", mask)):
        _check_finite(name, arr)
    if (mask < 0).any():
        raise ValueError("mask: expected non-negative weights, found a negative entry at "
                         f"{tuple(int(i) for i in np.argwhere(mask < 0)[0])}")
    return inputs, targets, mask
