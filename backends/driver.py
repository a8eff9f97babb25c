"""What every batched backend does around the math: argument checks and result shapes.

Shared by ``backends/torch`` and ``backends/jax`` so that both reject bad input with
the same ``ValueError`` (before any framework sees it) and hand the harness the same
numpy Result.  Validation of params and data is ``diffmem.models.ntm.reference.layout``'s, the one
place that decides what a valid model is.
"""

from __future__ import annotations

import re

import numpy as np

from diffmem.models import config_from_dict, family_for
from diffmem.reference.precision import compute_dtype
from diffmem.reference.validate import validate_data, validate_params

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
    """A family's config object, or its plain dict (``to_dict()``), -> the config,
    validated by its family (an object is rebuilt from its dict: equal, so caches keyed
    by it still hit)."""
    if isinstance(config, dict):
        return config_from_dict(config)
    if not callable(getattr(config, "to_dict", None)) or \
            not isinstance(getattr(config, "model", None), str):
        raise ValueError(f"config: expected a model config or its dict (to_dict()), "
                         f"got {type(config).__name__}")
    return family_for(config).config_from_dict(config.to_dict())


def check_run_args(config, params, inputs, targets, mask, dtype):
    """Validated (cfg, params, inputs, targets, mask), the arrays numpy of ``dtype``
    (float32 for a low-precision mode: only its matrix products are lower)."""
    cfg = as_config(config)
    dtype = compute_dtype(dtype)
    params = {k: np.ascontiguousarray(v, dtype=dtype)
              for k, v in validate_params(params, family_for(cfg).param_shapes(cfg)).items()}
    data = validate_data(cfg.input_size, cfg.output_size, inputs, targets, mask, batched=True)
    inputs, targets, mask = (np.ascontiguousarray(a, dtype=dtype) for a in data)
    return cfg, params, inputs, targets, mask


def trace_names(cfg):
    """The family's trace names in stage order (what a full trace holds)."""
    return [e.name for e in family_for(cfg).trace_entries(cfg)]


def supports_model(config, model_cls):
    """True, or why a batched-form subclass cannot run this config (another family's)."""
    batched = family_for(config).batched
    if model_cls is None or issubclass(model_cls, batched):
        return True
    return (f"{model_cls.__name__} is another family's model: it cannot run model "
            f"{config.model!r} (whose batched form is {batched.__name__})")


def model_for(cfg, model_cls=None):
    """The batched-form class to run: ``model_cls`` (a bug or variant subclass), or by
    default the config's family's own."""
    return family_for(cfg).batched if model_cls is None else model_cls


def backend_name(framework, device, dtype, model_cls):
    """e.g. 'torch-cpu-float32', or 'jax-cuda-float64[ShiftSign]' for a bug subclass
    (``model_cls`` None: each family's own batched form)."""
    suffix = "" if model_cls is None else f"[{model_cls.__name__}]"
    return f"{framework}-{device}-{dtype}{suffix}"
