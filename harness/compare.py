"""Comparing a backend's Result with a case's reference results (HARNESS.md section 3).

One ``TensorReport`` per compared tensor, named ``logits``, ``loss``, ``grads/<param>``,
``grad_inputs`` or ``trace/<entry>``, grouped into the five *checks* of ``CHECKS``.
Each report carries the max abs error, the error relative to the tensor's scale
(``tolerance.py``), the bound, and the worst element (batch, step, head, index).

Failures of their own kind, each with a message that names the tensor:
``type`` (not a numpy array), ``dtype``, ``shape``, ``missing`` (a required part or key
absent), ``unexpected`` (a gradient for no parameter), ``nonfinite`` (NaN/Inf; never hidden
behind an error number), ``value`` (outside the bound); a backend exception fails the
whole case (status ``error``).  Optional parts the backend did not return are
``not checked``, never passed.

Nothing here knows the NTM: trace names, stages and heads come from the model's
``trace_entries`` (``harness/models.py``).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from .models import model_spec
from .tolerance import LOW_PRECISION_CONSTANTS as LOW_PRECISION
from .tolerance import Tolerance

CHECKS = ("logits", "loss", "grads", "grad_inputs", "trace")
PASS, FAIL, NOT_CHECKED, ERROR = "pass", "fail", "not checked", "error"
_MAX_LISTED = 4   # failing tensors spelled out in one check's message


@dataclass
class TensorReport:
    tensor: str
    check: str
    status: str
    kind: str                   # ok | value | nonfinite | shape | dtype | type | missing | unexpected | absent
    message: str
    max_abs: float | None = None
    rel: float | None = None    # max_abs / scale
    scale: float | None = None
    bound: float | None = None  # at the worst element
    ratio: float | None = None  # max over elements of |error| / bound; inf for NaN/Inf
    err32: float | None = None  # the reference's float32 error the bound was sized by
    where: dict | None = None
    got: float | None = None
    expected: float | None = None
    stage: int | None = None
    step_ratios: np.ndarray | None = field(default=None, repr=False)  # trace: [T, heads]


@dataclass
class CaseResult:
    case: str
    backend: str
    dtype: str
    seconds: float
    tensors: list = field(default_factory=list)
    error: str | None = None          # backend exception (or unusable Result)
    divergence: dict | None = None    # see ``locate``

    def check(self, name: str) -> tuple:
        """(status, message) of one of ``CHECKS``."""
        if self.error is not None:
            return ERROR, self.error
        reports = [r for r in self.tensors if r.check == name]
        failed = [r for r in reports if r.status == FAIL]
        if name == "trace":   # in the order they went wrong: the divergence first
            failed.sort(key=_first_bad_step)
        if failed:
            lines = [r.message for r in failed[:_MAX_LISTED]]
            if len(failed) > _MAX_LISTED:
                lines.append(f"... and {len(failed) - _MAX_LISTED} more failing tensor(s): "
                             + ", ".join(r.tensor for r in failed[_MAX_LISTED:]))
            if name == "trace" and self.divergence:
                lines.insert(0, self.divergence["line"])
            return FAIL, "\n".join(lines)
        if not reports or all(r.status == NOT_CHECKED for r in reports):
            return NOT_CHECKED, (reports[0].message if reports else f"{name}: not checked")
        worst = max(reports, key=lambda r: r.ratio or 0.0)
        unchecked = [r.tensor for r in reports if r.status == NOT_CHECKED]
        note = (f"; not checked: {', '.join(unchecked)} ({_unchecked_reason(reports)})"
                if unchecked else "")
        checked = len(reports) - len(unchecked)
        return PASS, f"{name}: {checked} tensor(s) within bounds; worst {worst.message}{note}"

    @property
    def status(self) -> str:
        if self.error is not None:
            return ERROR
        return FAIL if any(r.status == FAIL for r in self.tensors) else PASS

    @property
    def worst_ratio(self) -> float | None:
        ratios = [r.ratio for r in self.tensors if r.ratio is not None]
        return max(ratios) if ratios else None

    @property
    def first_divergence(self) -> str:
        return self.divergence["line"] if self.divergence else ""


def _unchecked_reason(reports):
    first = next(r for r in reports if r.status == NOT_CHECKED)
    return first.message.split(": ", 1)[-1]


def _first_bad_step(report):
    if report.step_ratios is None:
        return -1    # missing or malformed entries first: they hide everything else
    bad = (report.step_ratios > 1).any(axis=1)
    return int(np.argmax(bad)) if bad.any() else len(bad)


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
    return TensorReport(tensor, check, FAIL, kind, f"{tensor}: {message}", stage=stage)


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
    # A float32 kernel may hand back float64 (upcast at the boundary); a float64 one
    # must not hand back float32: it then computed in float32 somewhere.
    allowed = ("float64",) if dtype == "float64" else ("float32", "float64")
    if got.dtype.name not in allowed:
        return _fail(tensor, check, "dtype", f"expected dtype {' or '.join(allowed)} from a "
                     f"{dtype} backend, got {got.dtype}; compute and return in {dtype}")
    if got.shape != expected.shape:
        return _fail(tensor, check, "shape", f"expected shape {expected.shape} {axes_doc}, got "
                     f"{got.shape}; check the axis order and that the batch axis comes first")
    return None


def compare_tensor(tensor, check, got, exp64, exp32, dtype, tolerance: Tolerance, *,
                   axes=(), axes_doc="", per_step=False, stage=None, heads=False,
                   floor_scale=None):
    """One tensor against the reference; see the module docstring."""
    exp64 = np.asarray(exp64, dtype=np.float64)
    bad = _check_array(tensor, check, got, exp64, dtype, axes_doc)
    if bad is not None:
        bad.stage = stage
        return bad
    if dtype in LOW_PRECISION and not np.isfinite(np.asarray(exp32, dtype=np.float64)).all():
        # float16's range ends at 65504: a gradient amplified past it (a zero key's
        # 1/sqrt(DELTA)) is Inf in any plain fp16 run, the emulated one included.
        return TensorReport(tensor, check, NOT_CHECKED, "unresolved",
                            f"{tensor}: not checked in {dtype}: the reference's emulated "
                            f"{dtype} run is not finite here (beyond the format's range); "
                            f"the float64 run checks it", stage=stage)
    got64 = got.astype(np.float64)
    finite = np.isfinite(got64)
    err = np.where(finite, np.abs(got64 - exp64), np.inf)
    scale = float(np.max(np.abs(exp64))) if exp64.size else 0.0
    err32 = np.abs(np.asarray(exp32, dtype=np.float64) - exp64)
    if per_step:   # max over everything but the step axis (axis 1), then over steps so far
        err32 = np.maximum.accumulate(
            err32.max(axis=(0,) + tuple(range(2, err32.ndim)), initial=0.0))
    else:
        err32 = err32.max(initial=0.0)
    bound = tolerance.bound(tensor, dtype, scale, err32, floor_scale)
    bound_el = bound.reshape((1, -1) + (1,) * (err.ndim - 2)) if per_step else bound
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / np.broadcast_to(bound_el, err.shape))
    # Where float32 itself cannot resolve the values (tolerance.py), they are not
    # compared; non-finite values still fail below.
    unresolved = tolerance.unresolved(tensor, dtype, scale, err32, floor_scale)
    unresolved_note = ""
    if unresolved.any():
        first = int(np.argmax(unresolved)) if per_step else None
        ref_rel = float(np.max(err32)) / max(scale, floor_scale or 0.0, 1e-300)
        unresolved_note = (f"not checked in float32{'' if first is None else f' from t={first} on'}"
                           f": the reference's own float32 run is off by {100 * ref_rel:.2g}% "
                           f"of the scale, more than float32 can resolve; the float64 run "
                           f"checks it")
        mask = np.broadcast_to(unresolved.reshape((1, -1) + (1,) * (err.ndim - 2))
                               if per_step else unresolved, err.shape)
        ratio = np.where(mask & np.isfinite(err), 0.0, ratio)
    report = TensorReport(tensor, check, PASS, "ok", "", stage=stage)
    if per_step:
        per_head = ratio.max(axis=(0,) + tuple(range(3 if heads else 2, ratio.ndim)),
                             initial=0.0)
        report.step_ratios = per_head if heads else per_head[:, None]
    if err.size == 0:
        report.message = f"{tensor}: empty, nothing to compare"
        return report
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    where = _where(worst, axes)
    report.where = where
    report.got, report.expected = float(got64[worst]), float(exp64[worst])
    report.scale = scale
    report.bound = float(np.broadcast_to(bound_el, err.shape)[worst])
    report.err32 = float(err32[worst[1]] if per_step else err32)
    report.max_abs = float(err.max())
    report.rel = report.max_abs / scale if scale > 0 else (0.0 if report.max_abs == 0
                                                          else float("inf"))
    report.ratio = float(ratio[worst])
    if not finite.all():
        first = tuple(np.argwhere(~finite)[0])
        what = "NaN" if np.isnan(got64[first]) else "Inf"
        report.status, report.kind = FAIL, "nonfinite"
        report.where, report.got = _where(first, axes), float(got64[first])
        report.expected = float(exp64[first])
        report.message = (f"{tensor} contain {what} at {format_where(report.where)} "
                          f"({int((~finite).sum())} non-finite of {got64.size} elements; "
                          f"the reference is finite there: {report.expected:.6g})")
        return report
    if unresolved.all():
        report.status, report.kind = NOT_CHECKED, "unresolved"
        report.message = f"{tensor}: {unresolved_note}"
        report.ratio = None
        return report
    outside = int((ratio > 1).sum())
    detail = (f"at {format_where(where)}: got {report.got:.9g}, expected {report.expected:.9g}, "
              f"|error| {err[worst]:.3g} vs bound {report.bound:.3g} (ratio {report.ratio:.3g}); "
              f"max |error| {report.max_abs:.3g}, relative to scale {scale:.3g}: "
              f"{report.rel:.3g}")
    if outside:
        report.status, report.kind = FAIL, "value"
        report.message = (f"{tensor}: {outside} of {err.size} elements "
                          f"({100.0 * outside / err.size:.3g}%) outside tolerance; worst {detail}")
    else:
        report.message = f"{tensor}: {detail}"
    if unresolved_note:
        report.message += f" ({unresolved_note})"
        report.kind = "partly-unresolved"
    return report


# ---------------------------------------------------------------- one Result

def _part(result, name):
    if isinstance(result, dict):
        return result.get(name)
    return getattr(result, name, None)


def _dict_part(tensor_group, check, got, expected: dict, unexpected_ok: bool):
    """Split a dict part (grads, trace) into (pairs to compare, failing reports)."""
    if not isinstance(got, dict):
        return [], [_fail(tensor_group, check, "type", f"expected a dict of name -> numpy "
                          f"array, got {type(got).__name__}")]
    failures = []
    for name in expected:
        if name not in got or got[name] is None:
            failures.append(_fail(f"{tensor_group}/{name}", check, "missing",
                                  f"missing from the backend's {tensor_group} (expected keys: "
                                  f"{', '.join(expected)})"))
    if not unexpected_ok:
        for name in sorted(set(got) - set(expected)):
            failures.append(_fail(f"{tensor_group}/{name}", check, "unexpected",
                                  f"not a parameter of this model (expected keys: "
                                  f"{', '.join(expected)}); a misspelt name?"))
    return [n for n in expected if n in got and got[n] is not None], failures


def _not_checked(tensor, check, why):
    return TensorReport(tensor, check, NOT_CHECKED, "absent", f"{tensor}: not checked ({why})")


def compare_result(case, result, dtype: str, tolerance: Tolerance) -> tuple:
    """All tensors of one Result -> (list of TensorReport, divergence dict or None)."""
    # The baseline: the reference's float32 run for float64 and float32, the mode's
    # emulated run for a low-precision mode (docs/precision.md).
    exp64 = case.expected["float64"]
    exp32 = case.expected["float32" if dtype == "float64" else dtype]
    reports = []
    for name, axes, doc in (("logits", ("b", "t"), "[B, T, Y]"), ("loss", ("b",), "[B]")):
        got = _part(result, name)
        if got is None:
            reports.append(_fail(name, name, "missing", f"Result.{name} is None; {name} are "
                                 f"required from every backend"))
        else:
            reports.append(compare_tensor(name, name, got, exp64[name], exp32[name], dtype,
                                          tolerance, axes=axes, axes_doc=doc))
    grads = _part(result, "grads")
    if grads is None:
        reports.append(_not_checked("grads", "grads", "the backend returned no gradients"))
    else:
        names, failures = _dict_part("grads", "grads", grads, exp64["grads"], False)
        reports += failures
        grad_scale = max((float(np.max(np.abs(g), initial=0.0)) for g in exp64["grads"].values()),
                         default=0.0)
        reports += [compare_tensor(f"grads/{n}", "grads", grads[n], exp64["grads"][n],
                                   exp32["grads"][n], dtype, tolerance,
                                   axes_doc="[parameter shape], summed over the batch",
                                   floor_scale=grad_scale)
                    for n in names]
    grad_inputs = _part(result, "grad_inputs")
    if grad_inputs is None:
        reports.append(_not_checked("grad_inputs", "grad_inputs",
                                    "the backend returned no gradient w.r.t. the inputs"))
    else:
        reports.append(compare_tensor("grad_inputs", "grad_inputs", grad_inputs,
                                      exp64["grad_inputs"], exp32["grad_inputs"], dtype,
                                      tolerance, axes=("b", "t"), axes_doc="[B, T, X]"))
    trace = _part(result, "trace")
    entries = model_spec(case.model).trace_entries(case.config)
    if trace is None:
        reports.append(_not_checked("trace", "trace", "the backend returned no trace; "
                                    "failures cannot be localised"))
    else:
        expected_trace = {e.name: exp64["trace"][e.name] for e in entries}
        names, failures = _dict_part("trace", "trace", trace, expected_trace, True)
        reports += failures
        for e in entries:
            if e.name in names:
                axes = ("b", "t", "head") if e.heads else ("b", "t")
                reports.append(compare_tensor(
                    f"trace/{e.name}", "trace", trace[e.name], exp64["trace"][e.name],
                    exp32["trace"][e.name], dtype, tolerance, axes=axes,
                    axes_doc="[B, T, heads, ...]" if e.heads else "[B, T, ...]",
                    per_step=True, stage=e.stage, heads=bool(e.heads)))
    return reports, locate(reports, entries)


# ---------------------------------------------------------------- localisation

def _matched_before(t: int, stage: int) -> str:
    parts = []
    if t == 1:
        parts.append("step 0 all stages")
    elif t > 1:
        parts.append(f"steps 0-{t - 1} all stages")
    if stage == 2:
        parts.append(f"step {t} stage 1")
    elif stage > 2:
        parts.append(f"step {t} stages 1-{stage - 1}")
    return ", ".join(parts) if parts else "nothing comes before it"


def locate(reports, entries) -> dict | None:
    """The first (step, stage, head) in stage order whose values leave tolerance.

    Returns None when everything matched, else a dict with ``line`` (the one line a
    kernel author reads first) and ``stage``: an int for a trace divergence, or
    "loss" / "gradient-only" / "logits" / None (not localised) otherwise.
    """
    order = {f"trace/{e.name}": i for i, e in enumerate(entries)}
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
    failed = {r.tensor for r in reports if r.status == FAIL}
    if best is not None:
        (t, _), r, head = best
        entry = entries[order[r.tensor]]
        name = r.tensor.split("/", 1)[1]
        head_text = f" head {head}" if entry.heads else ""
        line = (f"first divergence: t={t} stage {entry.stage} {name}{head_text} "
                f"(everything before matched: {_matched_before(t, entry.stage)})")
        unchecked = sorted(q.tensor for q in reports if q.check == "trace"
                           and q.status == FAIL and q.step_ratios is None)
        if unchecked:
            line += f"; not compared: {', '.join(unchecked)}"
        return {"line": line, "step": t, "stage": entry.stage, "name": name,
                "head": head if entry.heads else None}
    if not failed:
        return None
    trace_given = any(r.check == "trace" and r.status != NOT_CHECKED for r in reports)
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
                        "stage", "stage": "logits"}
    if "loss" in failed:
        return {"line": "loss: the trace and logits matched at every step; the loss from "
                        "them differs (mask, targets or the loss formula)", "stage": "loss"}
    grads = sorted(failed)
    return {"line": "forward matched (logits, loss" + (", trace" if trace_given else "")
                    + "); only gradients differ: " + ", ".join(grads[:_MAX_LISTED])
                    + (f" and {len(grads) - _MAX_LISTED} more" if len(grads) > _MAX_LISTED
                       else ""),
            "stage": "gradient-only"}


# ---------------------------------------------------------------- running a backend

def describe_exception(exc: BaseException) -> str:
    """Type, message and the last frame, e.g. for a backend that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_case(backend, case, dtype: str, tolerance: Tolerance | None = None) -> CaseResult:
    """Run ``backend`` on ``case`` (trace and gradients) and compare; never raises for a
    bad backend: its exceptions become a case with status ``error``."""
    tolerance = tolerance or Tolerance()
    name = str(getattr(backend, "name", type(backend).__name__))
    start = time.perf_counter()
    try:
        # Copies: a backend that writes into its inputs must not corrupt the case.
        result = backend.run(case.config, {k: v.copy() for k, v in case.params.items()},
                             case.inputs.copy(), case.targets.copy(), case.mask.copy(),
                             want_trace=True, want_grads=True)
    except Exception as exc:
        return CaseResult(case.name, name, dtype, time.perf_counter() - start,
                          error=f"the backend raised {describe_exception(exc)}; run it on this "
                                f"case directly to debug")
    seconds = time.perf_counter() - start
    return compare_case(case, result, dtype, tolerance, backend_name=name, seconds=seconds)


def compare_case(case, result, dtype, tolerance, *, backend_name="backend", seconds=0.0):
    if result is None or isinstance(result, (str, bytes, int, float, tuple, list)):
        return CaseResult(case.name, backend_name, dtype, seconds,
                          error=f"the backend returned {type(result).__name__}, expected a "
                                f"diffmem.backends.Result (logits, loss, grads, grad_inputs, "
                                f"trace)")
    try:
        reports, divergence = compare_result(case, result, dtype, tolerance)
    except Exception as exc:   # the harness never crashes on a strange Result
        return CaseResult(case.name, backend_name, dtype, seconds,
                          error=f"could not compare the backend's Result: "
                                f"{describe_exception(exc)}")
    return CaseResult(case.name, backend_name, dtype, seconds, reports, divergence=divergence)
