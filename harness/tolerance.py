"""How far a backend may be from the float64 reference (HARNESS.md section 4).

Every tensor is measured against its own *scale*, ``max |expected float64|`` over the
tensor (over the whole tensor for trace entries too, so that a step with small values
is not held to a tighter absolute bound than its neighbours).  The bound is absolute,
in the tensor's units:

- float64 backend:  ``rtol64 * scale + atol64 + c64 * err32``.
  Only summation order differs from the reference, so the bound is fixed and tight
  (``rtol64`` = 1e-9 relative).  The last term admits what float64 rounding costs on an
  ill-conditioned case, which the reference's own float32 run has measured (``err32``):
  on an easy case it is ~1e-12 relative and invisible; it matters only where float32
  itself is badly off (a zero key's norm gradient of 1e8, gradients that cancel to
  ~1e-10).  ``c64`` is far above the ratio of the machine epsilons (2^-29) because
  float32's error saturates (it cannot exceed the tensor itself) while float64's goes on
  growing with the conditioning.
- float32 backend:  ``k * err32 + rtol32 * scale + atol32``.  This is FlashAttention's
  practice: a kernel may cost what a plain float32 run costs, times a constant, plus a
  small floor for tensors where float32 happens to be exact.

Two refinements, where one reference run is a single sample of rounding noise:

- **Gradients are measured against the whole gradient's scale** (``floor_scale``: the
  largest |expected| over every parameter's gradient), not each tensor's own, in every
  dtype: the rounding in a backward pass is set by the adjoints flowing through it, so a
  gradient that cancels to ~1e-12 of its neighbours still carries their absolute rounding
  (float32: ``ntm-copy-lstm-n2-sharp``'s ``grads/init.read_logits``, scale 1.6e-12, every
  correct float32 run off by ~1e-10; float64: ``ntm-copy-lstm-zero-memory-sharp``'s
  ``grads/init.read_logits``, scale 7.8e-24 beside gradients of 8,950, where a correct
  implementation that sharpens as ``(w + EPS)^gamma`` normalised lands 4e-23 away).
- **What a low precision cannot resolve gets the noise bound only**: where the
  reference's own low-precision run is already off by more than ``UNRESOLVED`` (1 %) of
  the scale, the tensor (or, in a trace, the steps from there on) has lost five of
  float32's seven digits, and a correct kernel lands anywhere within the noise
  (``zero-keys``: a gradient through a zero key is amplified by 1/sqrt(DELTA) = 1e8, and
  a correct JAX float32 run is 350x further off than the reference's float32 run; long
  sharp sequences: chaotic).  Those tensors are held to ``K_NOISE x err32`` (it catches
  NaN, blow-ups and gross offsets) and are *not passed on that alone*: the float64 run of
  the same backend must check their values (``compare.CaseResult.cover``).

``err32 = max |reference float32 - reference float64|`` on this case and tensor; for
trace entries it is per step and its running maximum over the steps so far (an error
made at step s can surface in any later step), so that localisation compares step by
step while a step where float32 happened to land close is not held to a luckily tight
bound.

The constants come from ``diffmem calibrate`` (see README.md).
Users override them globally (``rtol`` and ``atol`` for every dtype checked, ``k`` for
float32) or per
tensor (``overrides``: fnmatch pattern on the tensor name, e.g. ``grads/*`` or
``trace/read.*``, -> a relative bound that replaces the computed one:
``rtol * scale + atol``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace

import numpy as np

# Set from `diffmem calibrate --cases 300` (README.md, "Calibration"):
# the largest error-to-bound ratio a correct backend reached, with margin.
K_FLOAT32 = 160.0        # float32 error <= 160 x the reference's own (2 x the 80.1 a correct run needed)
RTOL_FLOAT32 = 1e-5      # + 1e-5 x scale: ~80 float32 ulps of the tensor's largest value
ATOL_FLOAT32 = 1e-30     # only keeps an all-zero tensor's bound positive
RTOL_FLOAT64 = 1e-9      # HARNESS.md: "order 1e-9 relative"
ATOL_FLOAT64 = 1e-30
C_FLOAT64 = 1e-5         # float64 error <= 1e-5 x the reference's float32 error (+ floors)
UNRESOLVED = 1e-2        # reference low-precision run off by > 1% of scale: it cannot resolve it
UNRESOLVED_FLOAT32 = UNRESOLVED
K_NOISE = 1e3            # unresolved tensors: a correct float32 run reached 353 x err32
# float64 on chaotic cases: x the reference's own ulp-perturbation spread.  One ulp at the
# inputs understates what rounding at every operation does: on a held-out case (seed 22,
# index 598: LSTM, T = 108, sharp) three correct float64 backends were 200 times the
# spread off from step 91 on, where 100 had been enough on the first calibrations.
C_CHAOS64 = 1000.0
# Without a float64 run of the same kernel, an unresolved tensor may be off by at most
# twice its scale: a value whose digits float32 has lost can land at the opposite sign
# (an attention weight of 1 where the reference has 0 is off by the scale itself,
# measured on long sharp held-out cases); -7 g + 1 (8x) is beyond it.
CAP_SCALE = 2.0
EPS64 = 2.0 ** -52       # float64 machine epsilon
FLOAT64_PER_FLOAT32 = 2.0 ** -29   # float64 rounding per unit of float32 rounding (eps ratio)


# A correct float64 backend differs from the reference by summation order only: its error
# stays within about a thousand float64 roundings of what float32 costs on the same
# tensor (err32 x 2^-29, plus an ulp of the scale): on the 34 fixture cases the worst was
# 718 (JAX) and 288 (torch), both on the zero-key gradients.  Ten times further, within
# the bound or not, something computes differently: a "suspect".
SUSPECT_FACTOR = 1e4


# Unit roundoff of each low precision's rounding (the modes round matrix-product
# operands: TF32 and float16 keep 10 mantissa bits, bfloat16 7).
PRECISION_EPS = {"float32": 2.0 ** -23, "tf32": 2.0 ** -10, "float16": 2.0 ** -10,
                 "bfloat16": 2.0 ** -7}


def low_precision_noise_from_float64(spread64, dtype="float32"):
    """What ``dtype``'s rounding alone can do to a tensor of a chaotic case, from how far
    the float64 reference moves when its inputs move by an ulp (``noise.py``): the same
    amplification applied to the larger rounding, i.e. the spread times the ratio of the
    machine epsilons (2^29 for float32).  Linear, so an upper estimate once the low
    precision saturates."""
    return np.asarray(spread64, dtype=np.float64) * (PRECISION_EPS[dtype] / EPS64)


def rounding_floor64(err32, scale):
    """What float64 rounding alone can cost on a tensor: the float32 error scaled by the
    ratio of the machine epsilons, plus an ulp of the scale.  A correct float64 backend
    stays within a small multiple of it (``SUSPECT_FACTOR``)."""
    return np.asarray(err32, dtype=np.float64) * FLOAT64_PER_FLOAT32 + EPS64 * scale


# Low-precision modes (docs/precision.md): a backend whose matrix products are TF32,
# bfloat16 or float16 is bounded by the reference run with that precision emulated
# (``err32`` is then |emulated baseline - float64|, harness/baselines.py):
# k_mode * err_mode + rtol * scale + atol, the floors float32's (element-wise math stays
# float32 in these modes).  k from `diffmem calibrate --cases 300 --configs 10 --seed 11
# --dtype tf32,bfloat16,float16 --small`: 0 failures of the bundled torch and JAX
# backends in 1,800 runs; the smallest k passing every run was 13.3 / 5.24 / 5.57,
# about doubled and rounded up (CPU only: GPU TF32 / bf16 kernels not yet measured).
LOW_PRECISION_CONSTANTS = {   # mode: (k, rtol, atol)
    "tf32": (30.0, RTOL_FLOAT32, ATOL_FLOAT32),
    "bfloat16": (15.0, RTOL_FLOAT32, ATOL_FLOAT32),
    "float16": (15.0, RTOL_FLOAT32, ATOL_FLOAT32),
}
# The modes share float32's UNRESOLVED (1 %): at 10 % (tried first) the zero-key
# gradients, amplified by 1/sqrt(DELTA), failed correct JAX tf32 / bf16 / fp16 runs on
# ntm-copy-ff-zero-keys-sharp (ratios 1.7-17, the baseline off by 3-4 % of the scale).


@dataclass(frozen=True)
class Tolerance:
    """The bound model; ``None`` for a field means "the calibrated default"."""
    k: float | None = None
    rtol: float | None = None
    atol: float | None = None
    overrides: tuple = field(default_factory=tuple)   # ((pattern, rtol), ...)

    def constants(self, dtype: str) -> tuple:
        """(k, rtol, atol) for a backend dtype (k is c64 for float64)."""
        if dtype == "float64":
            k, rtol, atol = C_FLOAT64, RTOL_FLOAT64, ATOL_FLOAT64
        elif dtype == "float32":
            k, rtol, atol = K_FLOAT32, RTOL_FLOAT32, ATOL_FLOAT32
        elif dtype in LOW_PRECISION_CONSTANTS:
            k, rtol, atol = LOW_PRECISION_CONSTANTS[dtype]
        else:
            raise ValueError(f"dtype: expected 'float32', 'float64' or one of "
                             f"{tuple(LOW_PRECISION_CONSTANTS)}, got {dtype!r}")
        if self.k is not None and dtype != "float64":   # c64 is not a user knob
            k = self.k
        return (k, rtol if self.rtol is None else self.rtol,
                atol if self.atol is None else self.atol)

    def override_for(self, tensor: str):
        """The last matching per-tensor relative bound, or None."""
        found = None
        for pattern, rtol in self.overrides:
            if fnmatch.fnmatchcase(tensor, pattern):
                found = rtol
        return found

    def bound(self, tensor: str, dtype: str, scale: float, err32, floor_scale=None,
              noise=None, err64=None):
        """The absolute bound for ``tensor``: a float, or an array [T] when ``err32`` is
        per step.  ``err32`` is max |reference baseline - reference float64| (the
        baseline: float32, or the emulated low-precision mode); ``floor_scale``
        (gradients) replaces a smaller ``scale`` in the relative floor; where ``noise``
        (from ``unresolved``) is True, ``K_NOISE`` replaces ``k``; ``err64`` (float64 on a
        chaotic case, ``noise.py``) is how far the float64 reference itself moves when its
        inputs move by an ulp, and ``C_CHAOS64`` times it is added."""
        k, rtol, atol = self.constants(dtype)
        err32 = np.asarray(err32, dtype=np.float64)
        fixed = self.override_for(tensor)
        if fixed is not None:
            return np.full(err32.shape, fixed * scale + atol)
        if floor_scale is not None:
            scale = max(scale, floor_scale)
        if noise is not None:
            k = np.where(noise, max(k, K_NOISE), k)
        bound = k * err32 + rtol * scale + atol
        if err64 is not None and dtype == "float64":
            bound = bound + C_CHAOS64 * np.asarray(err64, dtype=np.float64)
        return bound

    def unresolved(self, tensor: str, dtype: str, scale: float, err32, floor_scale=None):
        """True (per step for an array ``err32``) where a low precision cannot resolve the
        tensor: the reference's own run in it is off by more than UNRESOLVED of the scale.
        Never for float64, nor for a tensor the user gave a bound of its own."""
        err32 = np.asarray(err32, dtype=np.float64)
        if dtype == "float64" or self.override_for(tensor) is not None:
            return np.zeros(err32.shape, dtype=bool)
        if floor_scale is not None:
            scale = max(scale, floor_scale)
        return err32 > UNRESOLVED * scale

    def plausible_bound(self, dtype, scale, err32, bound, unresolved, floor_scale=None):
        """The bound of a tensor a low precision cannot resolve, when no float64 run of
        the same kernel checks it: the noise bound ``bound`` capped at ``CAP_SCALE`` times
        the tensor's own scale (plus the usual floor) wherever the reference's own run in
        that precision stays within that scale: a value further off than the value itself
        at the opposite sign is outside any plausible range (a blow-up, a gross offset).  Where even the reference's run
        is off by more than the scale (a chaotic case: no digit survives), the noise
        bound alone; there only NaN, Inf and blow-ups far beyond rounding's reach fail."""
        _, rtol, atol = self.constants(dtype)
        floor = rtol * max(scale, floor_scale or 0.0) + atol
        err32 = np.asarray(err32, dtype=np.float64)
        cap = np.where(np.asarray(unresolved) & (err32 <= scale), CAP_SCALE * scale + floor,
                       np.inf)
        return np.minimum(bound, cap)

    def with_overrides(self, **changes) -> "Tolerance":
        return replace(self, **changes)


def parse_override(text: str) -> tuple:
    """``PATTERN=RTOL`` (e.g. ``grads/*=1e-4``) -> (pattern, float)."""
    pattern, sep, value = str(text).rpartition("=")
    try:
        rtol = float(value)
    except ValueError:
        rtol = None
    if not sep or not pattern or rtol is None or not np.isfinite(rtol) or rtol < 0:
        raise ValueError(f"tolerance override {text!r}: expected PATTERN=RTOL with a tensor "
                         f"name pattern such as 'grads/*' or 'trace/write.weight' and a "
                         f"non-negative number, e.g. 'grads/*=1e-4'")
    return pattern, rtol


def make_tolerance(k=None, rtol=None, atol=None, overrides=()) -> Tolerance:
    """A Tolerance from user options (CLI flags, pytest options); validates them."""
    for name, value in (("k", k), ("rtol", rtol), ("atol", atol)):
        if value is not None and (not np.isfinite(value) or value < 0):
            raise ValueError(f"tolerance {name}: expected a non-negative number, got {value!r}")
    parsed = tuple(o if isinstance(o, tuple) else parse_override(o) for o in overrides or ())
    return Tolerance(k=k, rtol=rtol, atol=atol, overrides=parsed)
