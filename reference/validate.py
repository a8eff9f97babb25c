"""Checks of user-supplied arrays, shared by every family: parameters against the family's
shapes, and inputs [B,]T,X, targets [B,]T,Y, mask [B,]T.  One clear line per problem."""

import numpy as np


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


def validate_params(params, shapes: dict) -> dict:
    """Check names against ``shapes`` (name -> shape, a family's ``param_shapes``), shapes
    and finiteness; returns a dict of numpy arrays."""
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of name -> array, got {type(params).__name__}")
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


def validate_data(X, Y, inputs, targets, mask, *, batched: bool):
    """Check inputs [B,]T,X, targets [B,]T,Y, mask [B,]T; returns numpy arrays."""
    lead = "B, T" if batched else "T"
    rank = 2 if batched else 1
    inputs = _as_float_array("inputs", inputs)
    targets = _as_float_array("targets", targets)
    mask = _as_float_array("mask", mask)
    for name, arr, width, w_name in (("inputs", inputs, X, "X"),
                                     ("targets", targets, Y, "Y")):
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
