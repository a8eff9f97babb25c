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

On the same chaotic cases a float32 backend's bound is sized from more than the
reference's one float32 run: one run is one draw from a wide spread, and a lucky draw
(measured: a tensor the float32 run got to 7e-5 where two float32 runs on inputs moved by
one float32 ulp were off by 8e-4 and 1.2e-2, and a correct float32 kernel by 1.9e-2) holds
a correct kernel to an accident.  ``float32_spread`` runs the float32 reference again on
inputs moved by one float32 ulp (``SAMPLES32`` seeded draws) and widens the baseline error,
element by element, to the largest of the runs: what float32 rounding alone does there,
measured instead of extrapolated from the float64 spread.
"""

from __future__ import annotations

import zlib

import numpy as np

from .tolerance import UNRESOLVED

KEY = "float64-perturbed"
KEY32 = "float32-spread"
SAMPLES32 = 2


def _ulp_nudge(a, rng, eps=np.finfo(np.float64).eps):
    a = np.asarray(a, dtype=np.float64)
    return a * (1.0 + eps * rng.uniform(-1.0, 1.0, size=a.shape))


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


def _widest(exp64, runs):
    """exp64 moved, element by element, by the largest |run - exp64| over ``runs`` (the
    same nesting of dicts and arrays): a baseline whose error is the runs' worst."""
    if isinstance(exp64, dict):
        return {k: _widest(v, [r[k] for r in runs]) for k, v in exp64.items()}
    exp64 = np.asarray(exp64, dtype=np.float64)
    worst = np.max([np.abs(np.asarray(r, dtype=np.float64) - exp64) for r in runs], axis=0)
    return exp64 + worst


def float32_spread(case):
    """The float32 baseline of a chaotic case widened to the largest error of the
    reference's float32 run and ``SAMPLES32`` float32 runs on ulp-perturbed parameters and
    inputs (cached in ``case.expected``); None for a case that is not chaotic."""
    if KEY32 in case.expected:
        return case.expected[KEY32]
    result = None
    if is_chaotic(case):
        rng = np.random.default_rng(zlib.crc32(case.name.encode()) ^ 0x32)
        eps = float(np.finfo(np.float32).eps)
        runs = [case.model.run_reference(
            {k: _ulp_nudge(v, rng, eps) for k, v in case.params.items()},
            _ulp_nudge(case.inputs, rng, eps), case.targets, case.mask,
            dtype="float32", want_trace=True, want_grads=True) for _ in range(SAMPLES32)]
        e64, e32 = case.expected["float64"], case.expected["float32"]
        parts = [k for k in ("logits", "loss", "grad_inputs", "grads", "trace") if k in e32]
        result = {k: _widest(e64[k], [e32[k]] + [r[k] for r in runs]) for k in parts}
    case.expected[KEY32] = result
    return result
