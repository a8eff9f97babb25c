"""What every batched backend does around the math: argument checks and result shapes.

Shared by ``backends/torch`` and ``backends/jax`` so that both reject bad input with
the same ``ValueError`` (before any framework sees it) and hand the harness the same
numpy Result.  A config meets its family once, in ``check_run_args`` (``bind``); params and
data are validated against that bound ``Model`` (``diffmem.reference.validate``).
"""

from __future__ import annotations

import os
import re

import numpy as np

from diffmem.models import MissingOps, bind
from diffmem.reference.precision import compute_dtype
from diffmem.reference.validate import validate_data, validate_params

from .protocol import DEVICES_HELP, PRECISIONS, Unsupported

_DEVICE = re.compile(r"^(cpu|cuda)(?::(\d+))?$")


# How the bundled JAX backend has XLA compile its programs on a CPU (``DIFFMEM_JAX_XLA``),
# kept here, free of JAX, so that every command can refuse a bad value before a worker
# imports JAX.  ``quick`` (the default): LLVM at -O0 and the classic elemental emitters
# instead of the MLIR fusion emitters.  A check runs each program a few times on small
# arrays, so compiling is nearly all of its time, and a traced program then compiles
# 3-6x faster (``python benchmarks/program_count.py --xla CASE``) and runs within a few
# milliseconds of XLA's default build.  The HLO passes are XLA's usual ones, and neither
# option permits fast-math or a lower precision: the program does the same float32 /
# float64 operations, its last bits differing as two correct programs that order or fuse
# them differently do (docs/backends.md, "The JAX build on a CPU").  ``default``: XLA's
# own settings, what a plain ``jax.jit`` and the training engine build.
JAX_XLA_VARIABLE = "DIFFMEM_JAX_XLA"
JAX_XLA_SETTINGS = {"quick": {"xla_backend_optimization_level": 0,
                              "xla_cpu_use_fusion_emitters": False},
                    "default": None}


def jax_xla_setting(environ=None) -> str:
    """``quick`` (unset or empty) or ``default``, from ``DIFFMEM_JAX_XLA``; else
    ValueError naming the variable and the values it takes."""
    value = (os.environ if environ is None else environ).get(JAX_XLA_VARIABLE) or "quick"
    if value not in JAX_XLA_SETTINGS:
        raise ValueError(f"{JAX_XLA_VARIABLE}={value!r}: expected one of "
                         f"{', '.join(JAX_XLA_SETTINGS)} (unset: quick)")
    return value


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


def check_run_args(config, params, inputs, targets, mask, dtype):
    """Validated (model, params, inputs, targets, mask): ``model`` the config's bound
    ``Model`` (``diffmem.models.bind``), the arrays numpy of ``dtype`` (float32 for a
    low-precision mode: only its matrix products are lower)."""
    model = bind(config)
    dtype = compute_dtype(dtype)
    params = {k: np.ascontiguousarray(v, dtype=dtype)
              for k, v in validate_params(params, model.param_shapes).items()}
    cfg = model.config
    data = validate_data(cfg.input_size, cfg.output_size, inputs, targets, mask, batched=True)
    inputs, targets, mask = (np.ascontiguousarray(a, dtype=dtype) for a in data)
    return model, params, inputs, targets, mask


def supports(config, form, ops):
    """True, or why this driver cannot run ``config``: ``form`` (a bug or variant class,
    None for the family's own batched form) is another family's, or the driver's ops
    table lacks an operation the form needs."""
    model = bind(config)
    answer = model.supports_form(form)
    if answer is not True:
        return answer
    missing = model.missing_ops(ops, form)
    if missing:
        return (f"{type(ops).__name__} lacks the array operation(s) {', '.join(missing)} "
                f"that {(form or model.family.batched).__name__} (family "
                f"{model.family.name}) needs")
    return True


def build(config, ops, form=None):
    """The batched form of ``config`` (``form``: a bug or variant subclass of it) over the
    ops table ``ops``; ``Unsupported`` with one line when the table lacks an operation it
    needs."""
    try:
        return bind(config).batched(ops, form)
    except MissingOps as exc:
        raise Unsupported(str(exc)) from None


def backend_name(framework, device, dtype, model_cls):
    """e.g. 'torch-cpu-float32', or 'jax-cuda-float64[ShiftSign]' for a bug subclass
    (``model_cls`` None: each family's own batched form)."""
    suffix = "" if model_cls is None else f"[{model_cls.__name__}]"
    return f"{framework}-{device}-{dtype}{suffix}"
