"""What every batched backend does around the math: argument checks and result shapes.

Shared by ``backends/torch`` and ``backends/jax`` so that both reject bad input with
the same ``ValueError`` (before any framework sees it) and hand the harness the same
numpy Result.  Validation of params and data is ``diffmem.reference.layout``'s, the one
place that decides what a valid model is.
"""

from __future__ import annotations

import re

import numpy as np

from diffmem.reference import NTMConfig
from diffmem.reference.layout import trace_entries, validate_data, validate_params
from diffmem.reference.precision import compute_dtype

from .protocol import DEVICES_HELP, PRECISIONS

_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


def parse_device(device):
    """'cpu' -> ('cpu', 0); 'cuda' -> ('cuda', 0); 'cuda:N' -> ('cuda', N)."""
    match = _DEVICE.match(device) if isinstance(device, str) else None
    if match is None or (match.group(1) == "cpu" and match.group(2) not in (None, "0")):
        raise ValueError(f"device: expected {DEVICES_HELP}, got {device!r}")
    return match.group(1), int(match.group(2) or 0)


def check_dtype(dtype):
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype: expected one of {PRECISIONS}, got {dtype!r}")
    return dtype


def as_config(config):
    """An NTMConfig, or its plain dict (``to_dict()``), -> NTMConfig."""
    if isinstance(config, NTMConfig):
        return config
    if isinstance(config, dict):
        return NTMConfig.from_dict(config)
    raise ValueError(f"config: expected an NTMConfig or its dict (to_dict()), "
                     f"got {type(config).__name__}")


def check_run_args(config, params, inputs, targets, mask, dtype):
    """Validated (cfg, params, inputs, targets, mask), the arrays numpy of ``dtype``
    (float32 for a low-precision mode: only its matrix products are lower)."""
    cfg = as_config(config)
    dtype = compute_dtype(dtype)
    params = {k: np.ascontiguousarray(v, dtype=dtype)
              for k, v in validate_params(params, cfg).items()}
    data = validate_data(cfg, inputs, targets, mask, batched=True)
    inputs, targets, mask = (np.ascontiguousarray(a, dtype=dtype) for a in data)
    return cfg, params, inputs, targets, mask


def trace_names(cfg):
    """NTM.md trace names in stage order (what a full trace holds)."""
    return [e.name for e in trace_entries(cfg)]


def backend_name(framework, device, dtype, model_cls):
    """e.g. 'torch-cpu-float32', or 'jax-cuda-float64[ShiftSign]' for a bug subclass."""
    suffix = "" if model_cls.__name__ == "BatchedNTM" else f"[{model_cls.__name__}]"
    return f"{framework}-{device}-{dtype}{suffix}"
