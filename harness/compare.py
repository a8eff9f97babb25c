"""Comparing a backend's Result with a case's reference results (HARNESS.md section 3).

One ``TensorReport`` per compared tensor, named ``logits``, ``loss``, ``grads/<param>``,
``grad_inputs``, ``trace/<entry>``, and for the other call paths ``untraced/<part>`` and
``repeat/<part>``, grouped into the *checks* of ``CHECKS``.  Each report carries the max
abs error, the error relative to the tensor's scale (``tolerance.py``), the bound, the
worst element (batch, step, head, index) and, for trace entries, the first failing step.

The verdict rules (README.md, "Verdicts"):

- logits, loss, every parameter's gradient and grad_inputs are **required**: a missing
  one fails, by name.  The trace is a localisation aid: a backend may return any subset
  of its entries (or none); what it returns is checked, the rest is "not compared".
- Failures of their own kind, each with a message that names the tensor: ``type``,
  ``dtype``, ``shape``, ``missing``, ``unexpected`` (a gradient for no parameter),
  ``nonfinite`` (NaN/Inf: never hidden behind an error number), ``value``.
- Where a low-precision run cannot resolve a tensor (``tolerance.unresolved``), the
  tensor is held to the noise bound only (``Mark.NOISE_ONLY``): that is not a pass on
  its own; the same backend's float64 run on the same case must check it
  (``CaseResult.cover``), else the run is ``INCOMPLETE``.
- A backend exception is ``ERROR``; ``diffmem.backends.Unsupported`` is ``UNSUPPORTED``.

Nothing here knows the NTM: trace names, stages and heads come from the model's
``trace_entries`` (``harness/models.py``).
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .models import model_spec
from .tolerance import LOW_PRECISION_CONSTANTS as LOW_PRECISION
from .tolerance import Tolerance, rounding_floor64


class Status(str, Enum):
    """The verdict of one run (a backend on a case in one dtype), and of one check."""
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    INCOMPLETE = "incomplete"     # something required was not checked (README, "Verdicts")
    UNSUPPORTED = "unsupported"   # the backend declared the configuration unsupported
    NOT_COMPARED = "not compared"   # a check with nothing to compare (an absent trace)

    def __str__(self):
        return self.value


class Mark(str, Enum):
    """What happened to one tensor."""
    PASS = "pass"
    FAIL = "fail"
    NOISE_ONLY = "noise only"       # within the low-precision noise bound; float64 must check it
    NOT_COMPARED = "not compared"   # an optional trace entry the backend did not return

    def __str__(self):
        return self.value


PASS, FAIL, ERROR = Status.PASS, Status.FAIL, Status.ERROR
INCOMPLETE, UNSUPPORTED, NOT_COMPARED = Status.INCOMPLETE, Status.UNSUPPORTED, Status.NOT_COMPARED
REQUIRED = ("logits", "loss", "grads", "grad_inputs")
CHECKS = REQUIRED + ("trace", "untraced", "repeat")
_MAX_LISTED = 4   # failing tensors spelled out in one check's message


@dataclass
class TensorReport:
    tensor: str
    check: str
    status: Mark
    kind: str                   # ok | value | nonfinite | shape | dtype | type | missing | unexpected | absent | unresolved
    message: str
    max_abs: float | None = None
    rel: float | None = None    # max_abs / scale
    scale: float | None = None
    bound: float | None = None  # at the worst element
    ratio: float | None = None  # max over elements of |error| / bound; inf for NaN/Inf
    err32: float | None = None  # the reference's low-precision error the bound was sized by
    where: dict | None = None
    got: float | None = None
    expected: float | None = None
    stage: int | None = None
    first_bad: dict | None = None   # trace: the worst element of the first failing step
    suspect: dict | None = None     # float64: the first step whose error is far above rounding
    covered_by: str | None = None   # NOISE_ONLY tensors the float64 run checked
    step_ratios: np.ndarray | None = field(default=None, repr=False)  # trace: [T, heads]

    @property
    def passed(self) -> bool:
        return self.status == Mark.PASS or (self.status == Mark.NOISE_ONLY
                                            and self.covered_by is not None)


@dataclass
class CaseResult:
    case: str
    backend: str
    dtype: str
    seconds: float
    tensors: list = field(default_factory=list)
    error: str | None = None          # backend exception (or unusable Result)
    unsupported: str | None = None    # the backend's reason, when it raised Unsupported
    divergence: dict | None = None    # see ``locate``
    suspect: dict | None = None       # see ``find_suspect``: {"line", "tensor", "stage"}
    source: str | None = None         # the --backend name or import path it was made from

    def check(self, name: str) -> tuple:
        """(Status, message) of one of ``CHECKS``."""
        if self.error is not None:
            return ERROR, self.error
        if self.unsupported is not None:
            return UNSUPPORTED, self.unsupported
        reports = [r for r in self.tensors if r.check == name]
        failed = [r for r in reports if r.status == Mark.FAIL]
        if failed:
            failed.sort(key=_failure_order)
            lines = [r.message for r in failed[:_MAX_LISTED]]
            if len(failed) > _MAX_LISTED:
                lines.append(f"... and {len(failed) - _MAX_LISTED} more failing tensor(s), "
                             f"worst first: " + ", ".join(
                                 f"{r.tensor} (ratio {_ratio(r.ratio)})"
                                 for r in failed[_MAX_LISTED:]))
            if name == "trace" and self.divergence and "step" in self.divergence:
                lines.insert(0, self.divergence["line"])
            return FAIL, "\n".join(lines)
        compared = [r for r in reports if r.status != Mark.NOT_COMPARED]
        if not compared:
            return NOT_COMPARED, (reports[0].message if reports else f"{name}: not compared")
        open_ = [r for r in compared if not r.passed]
        if open_:
            return INCOMPLETE, "\n".join(r.message for r in open_)
        worst = max(compared, key=lambda r: r.ratio or 0.0)
        notes = []
        covered = [r.tensor for r in compared if r.covered_by]
        if covered:
            notes.append(f"held to the {self.dtype} noise bound only and checked by "
                         f"{compared[0].covered_by if len(covered) == 1 else 'the float64 run'}: "
                         + ", ".join(covered))
        absent = [r.tensor for r in reports if r.status == Mark.NOT_COMPARED]
        if absent:
            notes.append("not compared: " + ", ".join(absent))
        return PASS, (f"{name}: {len(compared)} tensor(s) within bounds; worst "
                      f"{worst.message}" + "".join(f"; {n}" for n in notes))

    @property
    def status(self) -> Status:
        if self.error is not None:
            return ERROR
        if self.unsupported is not None:
            return UNSUPPORTED
        if any(r.status == Mark.FAIL for r in self.tensors):
            return FAIL
        if any(not r.passed for r in self.tensors if r.status != Mark.NOT_COMPARED):
            return INCOMPLETE
        return PASS

    @property
    def worst_ratio(self) -> float | None:
        ratios = [r.ratio for r in self.tensors if r.ratio is not None]
        return max(ratios) if ratios else None

    @property
    def first_divergence(self) -> str:
        return self.divergence["line"] if self.divergence else ""

    @property
    def noise_only(self) -> list:
        """Tensors this run could hold to its noise bound only."""
        return [r for r in self.tensors if r.status == Mark.NOISE_ONLY]

    def cover(self, float64_run: "CaseResult") -> None:
        """Let the same backend's float64 run on the same case vouch for the tensors this
        low-precision run cannot resolve: each one it checked and passed is covered."""
        if float64_run is None or float64_run.dtype != "float64":
            return
        passed = {r.tensor for r in float64_run.tensors if r.status == Mark.PASS}
        for r in self.noise_only:
            if r.tensor in passed:
                r.covered_by = f"the float64 run ({float64_run.backend})"


def _ratio(value):
    return "-" if value is None else ("inf" if np.isinf(value) else f"{value:.3g}")


def _failure_order(report):
    """Malformed entries first (they hide everything else), then trace entries by their
    first failing step, then the worst ratio first."""
    if report.ratio is None:
        return (0, 0, 0.0)
    step = report.first_bad["t"] if report.first_bad else 0
    return (1, step, -report.ratio)


# ---------------------------------------------------------------- one tensor

def _where(index, axes) -> dict:
    """Element index -> {"b", "t", "head", "index"} using the tensor's leading axis names."""
    out = {name: int(i) for name, i in zip(axes, index)}
    out["index"] = [int(i) for i in index[len(axes):]]
    return out


def format_where(where: dict) -> str:
    parts = [f"{k}={where[k]}" for k in ("b", "t", "head") if k in where]
    if where.get("index"):
        parts.append("index=(" + ", ".join(map(str, where["index"])) + ")")
    return " ".join(parts) if parts else "the scalar"


def _fail(tensor, check, kind, message, stage=None):
    return TensorReport(tensor, check, Mark.FAIL, kind, f"{tensor}: {message}", stage=stage)


def _allowed_dtypes(dtype):
    # A float32 (or lower) kernel may hand back float64 (upcast at the boundary); a float64
    # one must not hand back less: it then computed in lower precision somewhere.  numpy
    # has no bfloat16: low-precision modes return float32 (or float16) arrays.
    if dtype == "float64":
        return ("float64",)
    if dtype == "float32":
        return ("float32", "float64")
    return ("float16", "float32", "float64")


def _check_array(tensor, check, got, expected, dtype, axes_doc):
    """Type, dtype and shape checks; returns a failing report or None."""
    if not isinstance(got, np.ndarray):
        hint = (" (a torch tensor converts with .detach().cpu().numpy(), a JAX array "
                "with numpy.asarray)") if type(got).__module__.split(".")[0] in ("torch", "jax",
                                                                            "jaxlib") else ""
        return _fail(tensor, check, "type", f"expected a numpy array, got "
                     f"{type(got).__module__}.{type(got).__name__}{hint}")
    if not np.issubdtype(got.dtype, np.floating):
        return _fail(tensor, check, "dtype", f"expected a floating-point array ({dtype}), got "
                     f"dtype {got.dtype}")
    allowed = _allowed_dtypes(dtype)
    if got.dtype.name not in allowed:
        return _fail(tensor, check, "dtype", f"expected dtype {' or '.join(allowed)} from a "
                     f"{dtype} backend, got {got.dtype}; compute and return in {dtype}")
    if got.shape != expected.shape:
        return _fail(tensor, check, "shape", f"expected shape {expected.shape} {axes_doc}, got "
                     f"{got.shape}; check the axis order and that the batch axis comes first")
    return None


def _detail(err, where, got, expected, bound, ratio) -> str:
    return (f"{format_where(where)}: got {got:.9g}, expected {expected:.9g}, |error| "
            f"{err:.3g} vs bound {bound:.3g} (ratio {_ratio(ratio)})")


def _per_step(a):
    """Max over everything but the step axis (axis 1) -> [T]."""
    return a.max(axis=(0,) + tuple(range(2, a.ndim)), initial=0.0)


def compare_tensor(tensor, check, got, exp64, exp_low, dtype, tolerance: Tolerance, *,
                   axes=(), axes_doc="", per_step=False, stage=None, heads=False,
                   floor_scale=None, exp_perturbed=None):
    """One tensor against the reference; see the module docstring.  ``exp_low`` is the
    reference's run in the precision that sizes the bound (float32 for float64 and
    float32 backends, the emulated mode for tf32 / bfloat16 / float16);
    ``exp_perturbed`` the float64 run on ulp-perturbed inputs, for chaotic cases
    (``noise.py``)."""
    exp64 = np.asarray(exp64, dtype=np.float64)
    bad = _check_array(tensor, check, got, exp64, dtype, axes_doc)
    if bad is not None:
        bad.stage = stage
        return bad
    if dtype in LOW_PRECISION and not np.isfinite(np.asarray(exp_low, dtype=np.float64)).all():
        # float16's range ends at 65504: a gradient amplified past it (a zero key's
        # 1/sqrt(DELTA)) is Inf in any plain fp16 run, the emulated one included.
        return TensorReport(tensor, check, Mark.NOISE_ONLY, "unresolved",
                            f"{tensor}: {dtype} cannot resolve it: the reference's emulated "
                            f"{dtype} run is not finite here (beyond the format's range); "
                            f"the float64 run must check its values", stage=stage)
    got64 = got.astype(np.float64)
    finite = np.isfinite(got64)
    err = np.where(finite, np.abs(got64 - exp64), np.inf)
    scale = float(np.max(np.abs(exp64))) if exp64.size else 0.0
    err_low = np.abs(np.asarray(exp_low, dtype=np.float64) - exp64)
    # For trace entries the baseline error is per step, then its running maximum (an error
    # made at step s can surface in any later step; a lucky step is not held tighter).
    err32 = np.maximum.accumulate(_per_step(err_low)) if per_step else err_low.max(initial=0.0)
    err64 = None
    if exp_perturbed is not None:
        spread = np.abs(np.asarray(exp_perturbed, dtype=np.float64) - exp64)
        err64 = np.maximum.accumulate(_per_step(spread)) if per_step \
            else spread.max(initial=0.0)
    unresolved = tolerance.unresolved(tensor, dtype, scale, err32, floor_scale)
    bound = tolerance.bound(tensor, dtype, scale, err32, floor_scale, noise=unresolved,
                            err64=err64)
    shape_el = (1, -1) + (1,) * (err.ndim - 2)
    bound_el = np.broadcast_to(bound.reshape(shape_el) if per_step else bound, err.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / bound_el)
    report = TensorReport(tensor, check, Mark.PASS, "ok", "", stage=stage, scale=scale)
    if per_step:
        per_head = ratio.max(axis=(0,) + tuple(range(3 if heads else 2, ratio.ndim)),
                             initial=0.0)
        report.step_ratios = per_head if heads else per_head[:, None]
    if err.size == 0:
        report.message = f"{tensor}: empty, nothing to compare"
        return report
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    report.where = _where(worst, axes)
    report.got, report.expected = float(got64[worst]), float(exp64[worst])
    report.bound = float(bound_el[worst])
    report.err32 = float(err32[worst[1]] if per_step else err32)
    report.max_abs = float(err.max())
    report.rel = report.max_abs / scale if scale > 0 else (0.0 if report.max_abs == 0
                                                          else float("inf"))
    report.ratio = float(ratio[worst])
    if dtype == "float64" and np.all(finite) and err64 is None:
        # On a chaotic case float64 rounding alone is amplified far beyond the usual
        # floor: no suspect can be told from it there.
        report.suspect = _suspect(err, exp64, err_low, scale, floor_scale, per_step, axes)
    if not finite.all():
        first = tuple(np.argwhere(~finite)[0])
        what = "NaN" if np.isnan(got64[first]) else "Inf"
        report.status, report.kind = Mark.FAIL, "nonfinite"
        report.where, report.got = _where(first, axes), float(got64[first])
        report.expected = float(exp64[first])
        report.first_bad = report.where if per_step else None
        report.message = (f"{tensor} contain {what} at {format_where(report.where)} "
                          f"({int((~finite).sum())} non-finite of {got64.size} elements; "
                          f"the reference is finite there: {report.expected:.6g})")
        return report
    outside = ratio > 1
    worst_text = (f"worst at {_detail(err[worst], report.where, report.got, report.expected, report.bound, report.ratio)}; "
                  f"max |error| {report.max_abs:.3g}, relative to scale {scale:.3g}: "
                  f"{report.rel:.3g}")
    if outside.any():
        report.status, report.kind = Mark.FAIL, "value"
        lead = ""
        if per_step:   # the evidence at the divergence point, before errors compound
            t0 = int(np.argmax(_per_step(outside.astype(float)) > 0))
            at_t = ratio[:, t0]
            if heads:   # within the lowest failing head: the one the divergence line names
                h0 = int(np.argmax((at_t > 1).any(axis=(0,) + tuple(range(2, at_t.ndim)))))
                at = np.unravel_index(int(np.argmax(at_t[:, h0])), at_t[:, h0].shape)
                el = (at[0], t0, h0) + tuple(at[1:])
            else:
                at = np.unravel_index(int(np.argmax(at_t)), at_t.shape)
                el = (at[0], t0) + tuple(at[1:])
            report.first_bad = _where(el, axes)
            report.first_bad.update(got=float(got64[el]), expected=float(exp64[el]),
                                    error=float(err[el]), bound=float(bound_el[el]),
                                    ratio=float(ratio[el]),
                                    hint=_kind_of_error(err[el], err32[t0], exp64[el], dtype))
            lead = (f"first outside at {_detail(err[el], report.first_bad, got64[el], exp64[el], bound_el[el], ratio[el])}"
                    f"{report.first_bad['hint']}; ")
        n = int(outside.sum())
        report.message = (f"{tensor}: {n} of {err.size} elements ({100.0 * n / err.size:.3g}%) "
                          f"outside tolerance; {lead}{worst_text}")
    else:
        report.message = f"{tensor}: {worst_text}"
    if unresolved.any():
        first = int(np.argmax(unresolved)) if per_step else None
        ref_rel = float(np.max(err32)) / max(scale, floor_scale or 0.0, 1e-300)
        note = (f"{dtype} cannot resolve it{'' if first is None else f' from t={first} on'}: "
                f"the reference's own {_baseline_name(dtype)} run is off by "
                f"{100 * ref_rel:.2g}% of the scale; held to the noise bound only, the float64 "
                f"run must check its values")
        report.message += f" ({note})"
        if report.status == Mark.PASS:
            report.status, report.kind = Mark.NOISE_ONLY, "unresolved"
    return report


def _baseline_name(dtype):
    return "float32" if dtype in ("float32", "float64") else f"emulated {dtype}"


def _kind_of_error(err, err_low, expected, dtype) -> str:
    """A hint that tells a wrong formula from a lower precision, where the size of the
    error at the divergence point can: a float64 run whose error there is about what
    float32 rounding costs computed something in float32."""
    if dtype != "float64" or err_low <= 0:
        return ""
    if err_low / 10 <= err <= 30 * err_low:
        return (f" [about the size of float32 rounding here ({err_low:.2g}): a float32 buffer "
                f"or operation in a float64 run?]")
    if err > 1e3 * err_low and err > 1e-3 * abs(expected):
        return " [far larger than float32 rounding: a wrong formula, index or order?]"
    if err < err_low / 10:
        return (f" [below float32 rounding here ({err_low:.2g}) yet far above float64's: one "
                f"value in lower precision, or a small approximation (a threshold, an epsilon), "
                f"here or carried from earlier]")
    return ""


# A correct float64 backend differs from the reference by summation order only: its error
# stays within about a thousand float64 roundings of what float32 costs on the same
# tensor (err32 x 2^-29, plus an ulp of the scale): on the 34 fixture cases the worst was
# 718 (JAX) and 288 (torch), both on the zero-key gradients.  Ten times further, within
# the bound or not, something computes differently: a "suspect".
SUSPECT_FACTOR = 1e4


def _suspect(err, exp64, err_low, scale, floor_scale, per_step, axes):
    """The first element (per step for trace entries) whose float64 error is far above
    float64 rounding, or None."""
    floor = rounding_floor64(err_low, scale if floor_scale is None else max(scale, floor_scale))
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(err == 0, 0.0, err / (SUSPECT_FACTOR * floor))
    if not (excess > 1).any():
        return None
    if per_step:
        t0 = int(np.argmax(_per_step((excess > 1).astype(float)) > 0))
        at = np.unravel_index(int(np.argmax(excess[:, t0])), excess[:, t0].shape)
        el = (at[0], t0) + tuple(at[1:])
    else:
        el = np.unravel_index(int(np.argmax(excess)), excess.shape)
    where = _where(el, axes)
    where.update(error=float(err[el]), rounding=float(floor[el]), expected=float(exp64[el]))
    return where


# ---------------------------------------------------------------- one Result

def _part(result, name):
    if isinstance(result, dict):
        return result.get(name)
    return getattr(result, name, None)


def _dict_part(group, check, got, expected: dict, *, required: bool):
    """Split a dict part (grads, trace) into (names to compare, reports for the rest)."""
    if not isinstance(got, dict):
        return [], [_fail(group, check, "type", f"expected a dict of name -> numpy array, "
                          f"got {type(got).__name__}")]
    reports = []
    for name in expected:
        if name not in got or got[name] is None:
            if required:
                reports.append(_fail(f"{group}/{name}", check, "missing",
                                     f"missing from the backend's {group} (every one of "
                                     f"{', '.join(expected)} is required)"))
            else:
                reports.append(TensorReport(f"{group}/{name}", check, Mark.NOT_COMPARED,
                                            "absent", f"{group}/{name}: not returned"))
    if required:
        for name in sorted(set(got) - set(expected)):
            reports.append(_fail(f"{group}/{name}", check, "unexpected",
                                 f"not a parameter of this model (expected keys: "
                                 f"{', '.join(expected)}); a misspelt name?"))
    return [n for n in expected if n in got and got[n] is not None], reports


def _missing(name, why):
    return _fail(name, name.split("/")[0], "missing", why)


def _gradient_scale(case):
    return max((float(np.max(np.abs(g), initial=0.0))
                for g in case.expected["float64"]["grads"].values()), default=0.0)


def baseline(case, dtype):
    """The reference run that sizes a ``dtype`` backend's bound: float32 for float64 and
    float32, the emulated mode for the low-precision modes."""
    key = "float32" if dtype == "float64" else dtype
    try:
        return case.expected[key]
    except KeyError:
        raise ValueError(f"dtype {dtype!r}: case {case.name} has no reference run in {key} "
                         f"(its fixtures predate that mode; regenerate them)") from None


def _perturbed(case, dtype):
    from .noise import perturbed_float64
    return perturbed_float64(case) if dtype == "float64" else None


def compare_outputs(case, result, dtype, tolerance, *, prefix="", check=None,
                    parts=REQUIRED):
    """Reports for the required parts of a Result (logits, loss, grads, grad_inputs)."""
    exp64, low = case.expected["float64"], baseline(case, dtype)
    pert = _perturbed(case, dtype)
    reports = []
    for name, axes, doc in (("logits", ("b", "t"), "[B, T, Y]"), ("loss", ("b",), "[B]"),
                            ("grad_inputs", ("b", "t"), "[B, T, X]")):
        if name not in parts:
            continue
        got = _part(result, name)
        tname = prefix + name
        if got is None:
            reports.append(_missing(tname, f"Result.{name} is None; {name} are required from "
                                           f"every backend"))
        else:
            reports.append(compare_tensor(tname, check or name, got, exp64[name], low[name],
                                          dtype, tolerance, axes=axes, axes_doc=doc,
                                          exp_perturbed=pert and pert[name]))
    if "grads" in parts:
        grads = _part(result, "grads")
        if grads is None:
            reports.append(_missing(prefix + "grads", "Result.grads is None; gradients of "
                                    "every parameter are required"))
        else:
            names, rest = _dict_part(prefix + "grads", check or "grads", grads, exp64["grads"],
                                     required=True)
            reports += rest
            scale = _gradient_scale(case)
            reports += [compare_tensor(f"{prefix}grads/{n}", check or "grads", grads[n],
                                       exp64["grads"][n], low["grads"][n], dtype, tolerance,
                                       axes_doc="[parameter shape], summed over the batch",
                                       floor_scale=scale,
                                       exp_perturbed=pert and pert["grads"][n])
                        for n in names]
    for r in reports:   # the order of ``REQUIRED``
        r.check = check or r.tensor.split("/")[0]
    return reports


def compare_trace(case, trace, dtype, tolerance):
    exp64, low = case.expected["float64"], baseline(case, dtype)
    pert = _perturbed(case, dtype)
    entries = model_spec(case.model).trace_entries(case.config)
    if trace is None:
        return [TensorReport("trace", "trace", Mark.NOT_COMPARED, "absent",
                             "trace: not returned (optional: it localises failures)")]
    names, reports = _dict_part("trace", "trace", trace, {e.name: None for e in entries},
                                required=False)
    for e in entries:
        if e.name in names:
            axes = ("b", "t", "head") if e.heads else ("b", "t")
            reports.append(compare_tensor(
                f"trace/{e.name}", "trace", trace[e.name], exp64["trace"][e.name],
                low["trace"][e.name], dtype, tolerance, axes=axes,
                axes_doc="[B, T, heads, ...]" if e.heads else "[B, T, ...]",
                per_step=True, stage=e.stage, heads=bool(e.heads),
                exp_perturbed=pert and pert["trace"][e.name]))
    return reports


def compare_result(case, result, dtype: str, tolerance: Tolerance) -> tuple:
    """All tensors of one Result -> (list of TensorReport, divergence dict or None)."""
    reports = compare_outputs(case, result, dtype, tolerance)
    reports += compare_trace(case, _part(result, "trace"), dtype, tolerance)
    entries = model_spec(case.model).trace_entries(case.config)
    return reports, locate(reports, entries)


# ---------------------------------------------------------------- localisation

def _stage_list(stages):
    """[1, 2, 3, 5, 7, 8] -> '1-3, 5, 7-8'."""
    stages, out, i = sorted(set(stages)), [], 0
    while i < len(stages):
        j = i
        while j + 1 < len(stages) and stages[j + 1] == stages[j] + 1:
            j += 1
        out.append(str(stages[i]) if i == j else f"{stages[i]}-{stages[j]}")
        i = j + 1
    return ", ".join(out)


def _matched_before(t: int, stage: int, compared: set, all_stages: set) -> str:
    """What was compared, and matched, before (t, stage): only stages that were compared."""
    parts = []
    full = compared == all_stages
    everything = "all stages" if full else f"stages {_stage_list(compared)}"
    if t == 1:
        parts.append(f"step 0 {everything}")
    elif t > 1:
        parts.append(f"steps 0-{t - 1} {everything}")
    earlier = sorted(s for s in compared if s < stage)
    if earlier:
        parts.append(f"step {t} stage{'s' if len(earlier) > 1 else ''} {_stage_list(earlier)}")
    text = ", ".join(parts) if parts else "nothing comes before it"
    missing = sorted(all_stages - compared)
    if missing:
        text += f"; stages {_stage_list(missing)} not compared: the backend returned no trace for them"
    return text


def locate(reports, entries) -> dict | None:
    """The first (step, stage, head) in stage order whose values leave tolerance.

    Returns None when everything matched, else a dict with ``line`` (the one line a
    kernel author reads first) and ``stage``: an int for a trace divergence, or
    "loss" / "gradient-only" / "logits" / None (not localised) otherwise.
    """
    order = {f"trace/{e.name}": i for i, e in enumerate(entries)}
    compared = {entries[order[r.tensor]].stage for r in reports
                if r.tensor in order and r.step_ratios is not None}
    all_stages = {e.stage for e in entries}
    best = None
    for r in reports:
        if r.step_ratios is None or r.tensor not in order:
            continue
        bad = r.step_ratios > 1
        if not bad.any():
            continue
        t = int(np.argmax(bad.any(axis=1)))
        key = (t, order[r.tensor])
        if best is None or key < best[0]:
            best = (key, r, int(np.argmax(bad[t])))
    failed = {r.tensor for r in reports if r.status == Mark.FAIL}
    if best is not None:
        (t, _), r, head = best
        entry = entries[order[r.tensor]]
        name = r.tensor.split("/", 1)[1]
        head_text = f" head {head}" if entry.heads else ""
        line = (f"first divergence: t={t} stage {entry.stage} {name}{head_text} "
                f"(compared before it and matched: "
                f"{_matched_before(t, entry.stage, compared, all_stages)})")
        if r.first_bad and "error" in r.first_bad:
            fb = r.first_bad
            line += (f"\n  at the divergence: {format_where(fb)}: got {fb['got']:.9g}, "
                     f"expected {fb['expected']:.9g}, |error| {fb['error']:.3g} vs bound "
                     f"{fb['bound']:.3g}{fb['hint']}")
        return {"line": line, "step": t, "stage": entry.stage, "name": name,
                "head": head if entry.heads else None}
    if not failed:
        return None
    trace_given = bool(compared)
    forward = sorted(x for x in failed if x in ("logits", "loss") or x.startswith("trace/"))
    if not trace_given and forward:
        return {"line": f"not localised: the backend returned no trace ({', '.join(forward)} "
                        f"differ)", "stage": None}
    if any(x.startswith("trace/") for x in failed):
        return {"line": "not localised: trace entries could not be compared ("
                        + ", ".join(sorted(x for x in failed if x.startswith("trace/"))) + ")",
                "stage": None}
    if "logits" in failed:
        return {"line": "Result.logits differ although the trace matched at every step and "
                        "stage it holds", "stage": "logits"}
    if "loss" in failed:
        return {"line": "loss: the trace and logits matched at every step; the loss from "
                        "them differs (mask, targets or the loss formula)", "stage": "loss"}
    grads = sorted((r for r in reports if r.status == Mark.FAIL), key=_failure_order)
    names = [r.tensor for r in grads]
    return {"line": "forward matched (logits, loss" + (", trace" if trace_given else "")
                    + "); only gradients differ, worst first: " + ", ".join(names[:_MAX_LISTED])
                    + (f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED
                       else ""),
            "stage": "gradient-only"}


def find_suspect(reports, entries) -> dict | None:
    """float64 only: the earliest tensor (trace entries in step and stage order first)
    whose error is far above float64 rounding, within its bound or not: a cause that
    hides inside tolerance (a softplus that linearises, an epsilon in the wrong place)."""
    order = {f"trace/{e.name}": (e.stage, i) for i, e in enumerate(entries)}
    # A tensor outside its bound is already named by the failure (or the divergence
    # line); the suspect is for what hides inside tolerance.
    found = [r for r in reports if r.suspect is not None and r.status != Mark.FAIL]
    if not found:
        return None

    def key(r):
        if r.tensor in order:
            return (0, r.suspect.get("t", 0)) + order[r.tensor]
        return (1, 0, 0, 0)
    r = min(found, key=key)
    s = r.suspect
    stage = f" (stage {r.stage})" if r.stage is not None else ""
    line = (f"suspect: {r.tensor}{stage} at {format_where(s)}: |error| {s['error']:.3g} is "
            f"{s['error'] / s['rounding']:.3g}x float64 rounding here ({s['rounding']:.2g}), "
            f"within its bound; a correct float64 implementation stays below "
            f"{SUSPECT_FACTOR:g}x. The cause may sit here although the first divergence is "
            f"reported later")
    return {"line": line, "tensor": r.tensor, "stage": r.stage}


# ---------------------------------------------------------------- running a backend

def describe_exception(exc: BaseException) -> str:
    """Type, message and the last frame, e.g. for a backend that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class RunTimeout(Exception):
    """A backend call that did not return within the run time limit."""


def call_backend(backend, case, *, want_trace, want_grads, timeout=None):
    """One ``backend.run`` on copies of the case's arrays (a backend that writes into its
    inputs must not corrupt the case).  With ``timeout`` (seconds) the call runs in a
    helper thread and a call that has not returned by then raises ``RunTimeout``; the
    thread is left behind (it cannot be stopped), which is why the caller stops using
    that backend object afterwards."""
    def run():
        return backend.run(case.config, {k: v.copy() for k, v in case.params.items()},
                           case.inputs.copy(), case.targets.copy(), case.mask.copy(),
                           want_trace=want_trace, want_grads=want_grads)
    if not timeout:
        return run()
    box = {}

    def target():
        try:
            box["result"] = run()
        except BaseException as exc:   # handed to the caller's thread
            box["error"] = exc
    thread = threading.Thread(target=target, name="diffmem-backend-run", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise RunTimeout(f"the backend did not return within {timeout:g} s "
                         f"(--timeout); it is left running and not used again in this process")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _unsupported_reason(backend, case):
    """The backend's own ``supports(config)`` answer: None when supported (or when it
    has no such method), else the reason as text."""
    supports = getattr(backend, "supports", None)
    if not callable(supports):
        return None
    answer = supports(case.config)
    if answer is True or answer is None:
        return None
    return str(answer) if answer else "the backend's supports(config) returned False"


def run_case(backend, case, dtype: str, tolerance: Tolerance | None = None, *,
             paths: bool = True, repeat: bool = True,
             timeout: float | None = None) -> CaseResult:
    """Run ``backend`` on ``case`` and compare; never raises for a bad backend: its
    exceptions become a case with status ``error`` (``unsupported`` for
    ``diffmem.backends.Unsupported``).

    The calls: (1) trace and gradients, compared in full; with ``paths`` also (2) the
    production call without trace or gradients, whose logits and loss must meet the same
    bounds (``untraced/...``), and, with ``repeat`` too, (3) call (1) again, which must
    still meet them (``repeat/...``): a backend that keeps state between calls fails
    there.
    """
    from diffmem.backends.protocol import Unsupported
    tolerance = tolerance or Tolerance()
    name = str(getattr(backend, "name", type(backend).__name__))
    start = time.perf_counter()
    try:
        reason = _unsupported_reason(backend, case)
        if reason is not None:
            raise Unsupported(reason)
        result = call_backend(backend, case, want_trace=True, want_grads=True, timeout=timeout)
        out = compare_case(case, result, dtype, tolerance, backend_name=name)
        if out.error is not None or not paths:
            out.seconds = time.perf_counter() - start
            return out
        bare = call_backend(backend, case, want_trace=False, want_grads=False, timeout=timeout)
        out.tensors += compare_outputs(case, bare, dtype, tolerance, prefix="untraced/",
                                       check="untraced", parts=("logits", "loss"))
        if not repeat:
            out.seconds = time.perf_counter() - start
            return out
        again = call_backend(backend, case, want_trace=True, want_grads=True, timeout=timeout)
        out.tensors += compare_outputs(case, again, dtype, tolerance, prefix="repeat/",
                                       check="repeat")
        out.seconds = time.perf_counter() - start
        return out
    except Unsupported as exc:
        return CaseResult(case.name, name, dtype, time.perf_counter() - start,
                          unsupported=f"unsupported by the backend: {exc}")
    except RunTimeout as exc:
        return CaseResult(case.name, name, dtype, time.perf_counter() - start,
                          error=f"timed out: {exc}")
    except Exception as exc:
        return CaseResult(case.name, name, dtype, time.perf_counter() - start,
                          error=f"the backend raised {describe_exception(exc)}; run it on this "
                                f"case directly to debug")


def compare_case(case, result, dtype, tolerance, *, backend_name="backend", seconds=0.0):
    if result is None or isinstance(result, (str, bytes, int, float, tuple, list)):
        return CaseResult(case.name, backend_name, dtype, seconds,
                          error=f"the backend returned {type(result).__name__}, expected a "
                                f"diffmem.backends.Result (logits, loss, grads, grad_inputs, "
                                f"trace)")
    try:
        reports, divergence = compare_result(case, result, dtype, tolerance)
        entries = model_spec(case.model).trace_entries(case.config)
        suspect = find_suspect(reports, entries) if dtype == "float64" else None
    except Exception as exc:   # the harness never crashes on a strange Result
        return CaseResult(case.name, backend_name, dtype, seconds,
                          error=f"could not compare the backend's Result: "
                                f"{describe_exception(exc)}")
    return CaseResult(case.name, backend_name, dtype, seconds, reports, divergence=divergence,
                      suspect=suspect)


_DIGITS = re.compile(r"\d+(\.\d+)?")


def error_signature(result) -> str | None:
    """Errors that differ only in numbers (sizes, addresses, case names) are one error."""
    if result.error is None:
        return None
    first = result.error.split(" (at ", 1)[0].splitlines()[0]
    return _DIGITS.sub("#", first.replace(result.case, "<case>"))


def cover_runs(results) -> None:
    """Within one check, let each backend's float64 run vouch for what its other runs on
    the same case can hold to their noise bound only (``CaseResult.cover``).  Runs are
    matched by case and by the backend they were made from (``source``, else the backend's
    name less its dtype part)."""
    def key(r):
        return (r.case, r.source or r.backend.replace(r.dtype, "{dtype}"))
    float64 = {key(r): r for r in results if r.dtype == "float64" and r.error is None}
    for r in results:
        if r.dtype != "float64" and r.noise_only:
            r.cover(float64.get(key(r)))
