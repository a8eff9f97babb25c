"""Running the reference: values, trace and gradients, float64 or float32, or float32
with a low-precision mode emulated (tf32, bfloat16, float16: ``precision.py``).

``run_sequence`` is the oracle for one sequence; ``run_batch`` loops it over a batch
and returns arrays shaped like a backend's Result ([B, T, ...], grads summed).
Gradients are autograd's reverse mode through exactly the forward code.
"""

import numpy as np
from autograd import value_and_grad
from autograd.tracer import getval

from .config import NTMConfig
from .layout import validate_data, validate_params
from diffmem.reference.loss import sequence_loss
from .model import forward
from diffmem.reference.precision import LOW_PRECISION, compute_dtype, emulating

DTYPES = ("float64", "float32") + LOW_PRECISION


def _check_run_args(cfg, dtype):
    if not isinstance(cfg, NTMConfig):
        raise ValueError(f"config: expected an NTMConfig (NTMConfig.from_dict makes one "
                         f"from a dict), got {type(cfg).__name__}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")


def _run_one(cfg, params, inputs, targets, mask, dtype, want_trace, want_grads,
             product_results="format"):
    # Already validated and cast to compute_dtype(dtype).
    with emulating(dtype if dtype in LOW_PRECISION else None, product_results):
        return _run_one_in(cfg, params, inputs, targets, mask, compute_dtype(dtype),
                           want_trace, want_grads)


def _run_one_in(cfg, params, inputs, targets, mask, dtype, want_trace, want_grads):
    out = {}

    def loss_of(packed):
        logits, trace = forward(packed[0], cfg, packed[1], want_trace)
        out["logits"], out["trace"] = getval(logits), trace
        return sequence_loss(logits, targets, mask)

    if want_grads:
        loss, (grads, grad_inputs) = value_and_grad(loss_of)((params, inputs))
        out["grads"], out["grad_inputs"] = grads, grad_inputs
    else:
        loss = loss_of((params, inputs))
    out["loss"] = np.asarray(loss, dtype=dtype)
    return out


def run_sequence(cfg, params, inputs, targets, mask, *, dtype="float64",
                 want_trace=True, want_grads=True, product_results="format"):
    """One sequence: inputs [T, X], targets [T, Y], mask [T].  ``dtype``: float64,
    float32, or a low-precision mode (tf32, bfloat16, float16: float32 arrays with the
    mode's rounding emulated, ``precision.py``, whose ``product_results`` says whether a
    bf16 / fp16 matrix product returns the format or float32).

    Returns a dict: ``logits`` [T, Y], ``loss`` (scalar), and when asked ``trace``
    (name -> [T, ...]), ``grads`` (name -> param shape), ``grad_inputs`` [T, X].
    """
    _check_run_args(cfg, dtype)
    params = {k: v.astype(compute_dtype(dtype))
              for k, v in validate_params(params, cfg).items()}
    inputs, targets, mask = (a.astype(compute_dtype(dtype)) for a in
                             validate_data(cfg, inputs, targets, mask, batched=False))
    return _run_one(cfg, params, inputs, targets, mask, dtype, want_trace, want_grads,
                    product_results)


def run_batch(cfg, params, inputs, targets, mask, *, dtype="float64",
              want_trace=True, want_grads=True, product_results="format"):
    """A batch, one sequence at a time: inputs [B, T, X] -> Result-shaped dict.

    ``loss`` is [B]; ``grads`` are summed over the batch (the gradient of the summed
    loss); ``grad_inputs`` and the trace are [B, T, ...].
    """
    _check_run_args(cfg, dtype)
    params = {k: v.astype(compute_dtype(dtype))
              for k, v in validate_params(params, cfg).items()}
    inputs, targets, mask = (a.astype(compute_dtype(dtype)) for a in
                             validate_data(cfg, inputs, targets, mask, batched=True))
    runs = [_run_one(cfg, params, inputs[b], targets[b], mask[b], dtype, want_trace, want_grads,
                     product_results) for b in range(inputs.shape[0])]
    result = {"logits": np.stack([r["logits"] for r in runs]),
              "loss": np.stack([r["loss"] for r in runs])}
    if want_trace:
        result["trace"] = {k: np.stack([r["trace"][k] for r in runs]) for k in runs[0]["trace"]}
    if want_grads:
        result["grads"] = {k: sum(r["grads"][k] for r in runs) for k in params}
        result["grad_inputs"] = np.stack([r["grad_inputs"] for r in runs])
    return result
