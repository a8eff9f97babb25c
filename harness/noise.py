"""How far float64 itself moves on a case: the bound's last term for chaotic cases.

A float64 backend differs from the reference by summation order, i.e. by a relative
error of a few ulps injected at every operation, which the model then amplifies.  On
most cases that amplification is mild and the float64 bound's fixed floor (1e-9 of the
scale) covers it.  On long, sharp sequences it is not: gradients reach 1e10 and two
correct float64 implementations differ by 1e-3 of them.  The reference's float32 run
cannot measure that (its error saturates at the size of the tensor itself), so the
amplification is measured directly: the float64 reference run again on parameters and
inputs moved by one ulp (relative 2^-52, seeded), and its distance from the unperturbed
run is the float64 noise of that case.  It is computed only for cases where float32
already cannot resolve some tensor (``tolerance.UNRESOLVED``), once per case and process.
"""

from __future__ import annotations

import zlib

import numpy as np

from .tolerance import UNRESOLVED

KEY = "float64-perturbed"


def _ulp_nudge(a, rng):
    a = np.asarray(a, dtype=np.float64)
    return a * (1.0 + np.finfo(np.float64).eps * rng.uniform(-1.0, 1.0, size=a.shape))


def is_chaotic(case) -> bool:
    """Whether float32 already cannot resolve one of the required tensors."""
    e64, e32 = case.expected["float64"], case.expected["float32"]
    pairs = [(e64[k], e32[k]) for k in ("logits", "loss", "grad_inputs")]
    grads = list(e64["grads"])
    scale = max((float(np.max(np.abs(e64["grads"][k]), initial=0.0)) for k in grads),
                default=0.0)
    for x64, x32 in pairs:
        if np.max(np.abs(x32 - x64), initial=0.0) > UNRESOLVED * np.max(np.abs(x64), initial=0):
            return True
    return any(np.max(np.abs(e32["grads"][k] - e64["grads"][k]), initial=0.0)
               > UNRESOLVED * scale for k in grads)


def perturbed_float64(case):
    """The reference's float64 results on ulp-perturbed parameters and inputs (cached in
    ``case.expected``), or None for a case that is not chaotic."""
    if KEY in case.expected:
        return case.expected[KEY]
    result = None
    if is_chaotic(case):
        rng = np.random.default_rng(zlib.crc32(case.name.encode()))
        params = {k: _ulp_nudge(v, rng) for k, v in case.params.items()}
        result = case.model.run_reference(
            params, _ulp_nudge(case.inputs, rng), case.targets, case.mask,
            dtype="float64", want_trace=True, want_grads=True)
    case.expected[KEY] = result
    return result
