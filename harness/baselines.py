"""The reference runs that size a low-precision mode's bound.

A bfloat16 or float16 kernel forms its matrix products in one of two styles: it returns
each product in the format (a bf16 GEMM with bf16 output, as torch's autocast), or it
keeps the float32 accumulator (a fused kernel, JAX's ``preferred_element_type``).  The
two make errors of the same size but in different places, and one emulated run is a
single sample of rounding noise: on a tensor of a few elements at the first step, the
run of one style can land close to float64 by chance where a correct kernel of the other
style does not (measured: a float32-accumulating kernel reached 364 times the error of
the format-returning emulation on such a tensor, and the reverse 628 times).  So the
baseline of these modes is, element by element, whichever of the two emulated runs is
farther from float64 (a non-finite value, the format's overflow, counts as farthest).
tf32 has one style (its products are float32): its baseline is its emulated run.
"""

from __future__ import annotations

import numpy as np

from diffmem.reference.precision import LOW_PRECISION

STYLES = {"tf32": ("format",), "bfloat16": ("format", "float32"),
          "float16": ("format", "float32")}


def farther(exp64, runs):
    """Element by element, the value among ``runs`` farthest from ``exp64`` (nested dicts
    of arrays, the shape of a reference run); NaN or Inf wins."""
    if isinstance(exp64, dict):
        return {k: farther(exp64[k], [r[k] for r in runs]) for k in exp64}
    exp64 = np.asarray(exp64, dtype=np.float64)
    best = np.asarray(runs[0])
    for other in runs[1:]:
        other = np.asarray(other)
        d_best = np.abs(best.astype(np.float64) - exp64)
        d_other = np.abs(other.astype(np.float64) - exp64)
        d_best[~np.isfinite(d_best)] = np.inf
        d_other[~np.isfinite(d_other)] = np.inf
        best = np.where(d_other > d_best, other, best)
    return best


def reference_run(model, params, inputs, targets, mask, dtype, exp64=None):
    """The reference run of a bound ``Model`` a case stores for ``dtype``, trace and
    gradients: the run itself for float64 and float32; for a mode, its baseline (see
    above; ``exp64`` is the float64 run, made here when not given)."""
    def run(d, **kwargs):
        return model.run_reference(params, inputs, targets, mask, dtype=d, want_trace=True,
                                   want_grads=True, **kwargs)
    if dtype not in LOW_PRECISION:
        return run(dtype)
    if len(STYLES[dtype]) == 1:
        return run(dtype)
    runs = [run(dtype, product_results=style) for style in STYLES[dtype]]
    return farther(exp64 if exp64 is not None else run("float64"), runs)
