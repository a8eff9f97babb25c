"""Comparing a backend's Result with a case's reference results (HARNESS.md section 3).

One ``TensorReport`` per compared tensor, named ``logits``, ``loss``, ``grads/<param>``,
``grad_inputs``, ``trace/<entry>``, and for the other call paths ``untraced/<part>`` and
``repeat/<part>``, grouped into the *checks* of ``CHECKS``.  Each report carries the max
abs error, the error relative to the tensor's scale (``tolerance.py``), the bound, the
worst element (batch, step, head, index) and, for trace entries, the first failing step.

The verdict rules (docs/harness.md, "Verdicts"; the types are in ``verdict.py``, the
first-divergence and suspect lines in ``localise.py``):

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
``trace_entries`` (``models/family.py``).
"""

from __future__ import annotations

import threading
import time
import traceback

import numpy as np

from .families_extra import (apply_display_names, describe_divergence, input_block_reports,
                             restride)
from .localise import find_suspect, locate
from .observe import given_arrays, higher_precision, modified, nondeterministic
from .tolerance import LOW_PRECISION_CONSTANTS as LOW_PRECISION
from .tolerance import (SUSPECT_FACTOR, Tolerance, low_precision_noise_from_float64,
                        rounding_floor64)
from .verdict import (CHECKS, ERROR, FAIL, INCOMPLETE, NOT_COMPARED, PASS, REQUIRED,
                      UNSUPPORTED, CaseResult, Kind, Mark, Status, TensorReport, cover_runs,
                      error_signature, format_ratio, format_where, where_of)

# The harness's one entry point for comparing: the verdict types are re-exported here.
__all__ = ["CHECKS", "ERROR", "FAIL", "INCOMPLETE", "NOT_COMPARED", "PASS", "REQUIRED",
           "UNSUPPORTED", "CaseResult", "Kind", "Mark", "Status", "TensorReport", "RunTimeout",
           "baseline", "call_backend", "compare_case", "compare_outputs", "compare_result",
           "compare_tensor", "compare_trace", "cover_runs", "describe_exception",
           "error_signature", "find_suspect", "format_where", "locate", "run_case"]

# ---------------------------------------------------------------- one tensor

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
        return _fail(tensor, check, Kind.TYPE, f"expected a numpy array, got "
                     f"{type(got).__module__}.{type(got).__name__}{hint}")
    if not np.issubdtype(got.dtype, np.floating):
        return _fail(tensor, check, Kind.DTYPE, f"expected a floating-point array ({dtype}), got "
                     f"dtype {got.dtype}")
    allowed = _allowed_dtypes(dtype)
    if got.dtype.name not in allowed:
        return _fail(tensor, check, Kind.DTYPE, f"expected dtype {' or '.join(allowed)} from a "
                     f"{dtype} backend, got {got.dtype}; compute and return in {dtype}")
    if got.shape != expected.shape:
        return _fail(tensor, check, Kind.SHAPE, f"expected shape {expected.shape} {axes_doc}, got "
                     f"{got.shape}; check the axis order and that the batch axis comes first")
    return None


def _detail(err, where, got, expected, bound, ratio) -> str:
    return (f"{format_where(where)}: got {got:.9g}, expected {expected:.9g}, |error| "
            f"{err:.3g} vs bound {bound:.3g} (ratio {format_ratio(ratio)})")


def _per_step(a):
    """Max over everything but the step axis (axis 1) -> [T]."""
    return a.max(axis=(0,) + tuple(range(2, a.ndim)), initial=0.0)


def compare_tensor(tensor, check, got, exp64, exp_low, dtype, tolerance: Tolerance, *,
                   axes=(), axes_doc="", per_step=False, stage=None, heads=False,
                   floor_scale=None, exp_perturbed=None, noise=None):
    """One tensor against the reference; see the module docstring.  ``exp_low`` is the
    reference's run in the precision that sizes the bound (float32 for float64 and
    float32 backends, the emulated mode for tf32 / bfloat16 / float16);
    ``exp_perturbed`` the float64 run on ulp-perturbed inputs, for chaotic cases
    (``noise.py``); ``noise`` a (mask, reason) from the family's ``noise_from``: where the
    mask (per step for a trace entry, else one bool) is set, the tensor is beyond the
    precision's resolution for that reason (``_noise_mask``)."""
    exp64 = np.asarray(exp64, dtype=np.float64)
    bad = _check_array(tensor, check, got, exp64, dtype, axes_doc)
    if bad is not None:
        bad.stage = stage
        return bad
    if dtype in LOW_PRECISION and not np.isfinite(np.asarray(exp_low, dtype=np.float64)).all():
        # float16's range ends at 65504: a gradient amplified past it (a zero key's
        # 1/sqrt(DELTA)) is Inf in any plain fp16 run, the emulated one included.
        return TensorReport(tensor, check, Mark.NOISE_ONLY, Kind.UNRESOLVED,
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
        if dtype != "float64":
            # On a chaotic case one low-precision run is one draw from a wide spread:
            # what rounding alone does there is sized from the float64 run's
            # ulp-perturbed spread, scaled by the ratio of the machine epsilons.
            err32 = np.maximum(err32, low_precision_noise_from_float64(err64, dtype))
            err64 = None
    forced, err_measured = None, err32
    if noise is not None and dtype != "float64" and tolerance.override_for(tensor) is None:
        # Past a decision the precision cannot resolve (a near-tie of a sort), a correct
        # kernel may take either branch: its error there may reach the tensor's own size.
        # (A tensor the user gave a bound of its own keeps that bound.)
        forced = np.asarray(noise[0], dtype=bool)
        err32 = np.where(forced, np.maximum(err32, max(scale, floor_scale or 0.0)), err32)
    unresolved = tolerance.unresolved(tensor, dtype, scale, err32, floor_scale)
    if forced is not None:
        unresolved = unresolved | forced
    bound = tolerance.bound(tensor, dtype, scale, err32, floor_scale, noise=unresolved,
                            err64=err64)
    shape_el = (1, -1) + (1,) * (err.ndim - 2)
    bound_el = np.broadcast_to(bound.reshape(shape_el) if per_step else bound, err.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / bound_el)
    report = TensorReport(tensor, check, Mark.PASS, Kind.OK, "", stage=stage, scale=scale)
    if per_step:
        per_head = ratio.max(axis=(0,) + tuple(range(3 if heads else 2, ratio.ndim)),
                             initial=0.0)
        report.step_ratios = per_head if heads else per_head[:, None]
    if err.size == 0:
        report.message = f"{tensor}: empty, nothing to compare"
        return report
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    report.where = where_of(worst, axes)
    report.got, report.expected = float(got64[worst]), float(exp64[worst])
    report.bound = float(bound_el[worst])
    # the baseline's own error, as measured (not raised past a forced decision)
    report.err32 = float(err_measured[worst[1]] if per_step else err_measured)
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
        report.status, report.kind = Mark.FAIL, Kind.NONFINITE
        report.where, report.got = where_of(first, axes), float(got64[first])
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
        report.status, report.kind = Mark.FAIL, Kind.VALUE
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
            report.first_bad = where_of(el, axes)
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
        why = (f"the reference's own {_baseline_name(dtype)} run is off by "
               f"{100 * ref_rel:.2g}% of the scale")
        if forced is not None and forced.any() and (
                not per_step or first == int(np.argmax(forced))):
            why = noise[1]
        note = (f"{dtype} cannot resolve it{'' if first is None else f' from t={first} on'}: "
                f"{why}; held to the noise bound only, the float64 run must check its values")
        report.message += f" ({note})"
        if report.status == Mark.PASS:
            report.status, report.kind = Mark.NOISE_ONLY, Kind.UNRESOLVED
            report.plausible = _plausible(tolerance, dtype, scale, err32, bound, unresolved,
                                          floor_scale, err, got64, exp64, shape_el, per_step,
                                          axes)
    return report


def _plausible(tolerance, dtype, scale, err32, bound, unresolved, floor_scale, err, got64,
               exp64, shape_el, per_step, axes) -> dict:
    """The worst element against the plausible-range bound (``Tolerance.plausible_bound``):
    what judges a NOISE_ONLY tensor when no float64 run of the same kernel checks it."""
    capped = tolerance.plausible_bound(dtype, scale, err32, bound, unresolved, floor_scale)
    capped = np.broadcast_to(capped.reshape(shape_el) if per_step else capped, err.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(err == 0, 0.0, err / capped)
    at = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return {"ratio": float(ratio[at]), "bound": float(capped[at]), "error": float(err[at]),
            "got": float(got64[at]), "expected": float(exp64[at]), "where": where_of(at, axes)}


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
    where = where_of(el, axes)
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
        return [], [_fail(group, check, Kind.TYPE, f"expected a dict of name -> numpy array, "
                          f"got {type(got).__name__}")]
    reports = []
    for name in expected:
        if name not in got or got[name] is None:
            if required:
                reports.append(_fail(f"{group}/{name}", check, Kind.MISSING,
                                     f"missing from the backend's {group} (every one of "
                                     f"{', '.join(expected)} is required)"))
            else:
                reports.append(TensorReport(f"{group}/{name}", check, Mark.NOT_COMPARED,
                                            Kind.ABSENT, f"{group}/{name}: not returned"))
    if required:
        for name in sorted(set(got) - set(expected)):
            reports.append(_fail(f"{group}/{name}", check, Kind.UNEXPECTED,
                                 f"not a parameter of this model (expected keys: "
                                 f"{', '.join(expected)}); a misspelt name?"))
    return [n for n in expected if n in got and got[n] is not None], reports


def _missing(name, why):
    return _fail(name, name.split("/")[0], Kind.MISSING, why)


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


def _perturbed(case):
    from .noise import perturbed_float64
    return perturbed_float64(case)


def _noise_from(case, dtype):
    """The family's ``noise_from`` for this case and dtype (None: nothing forced)."""
    return case.model.family.noise_from(case, dtype)


def _noise_mask(noise, stage=None, steps=None):
    """(mask, reason) for ``compare_tensor`` from a ``NoiseFrom``: a trace entry of
    ``stage`` holding ``steps`` is beyond resolution at the steps after ``noise.step``, and
    at that step itself from ``noise.stage`` on; an output or a gradient (which every step
    feeds) is beyond it whole.  None when ``noise`` is None."""
    if noise is None:
        return None
    if steps is None:
        return True, noise.reason
    steps = np.asarray(steps)
    at = (steps == noise.step) & (stage is not None and stage >= noise.stage)
    return (steps > noise.step) | at, noise.reason


def _baseline_for(case, dtype):
    """``baseline``, for a float32 backend on a chaotic case widened to what float32
    rounding alone does there (``noise.float32_spread``)."""
    if dtype == "float32":
        from .noise import float32_spread
        widened = float32_spread(case)
        if widened is not None:
            return widened
    return baseline(case, dtype)


def compare_outputs(case, result, dtype, tolerance, *, prefix="", check=None,
                    parts=REQUIRED):
    """Reports for the required parts of a Result (logits, loss, grads, grad_inputs)."""
    exp64, low = case.expected["float64"], _baseline_for(case, dtype)
    pert = _perturbed(case)
    noise = _noise_mask(_noise_from(case, dtype))
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
            def one(tensor, g, e64, elow, epert, axes=axes, doc=doc, name=name):
                return compare_tensor(tensor, check or name, g, e64, elow, dtype, tolerance,
                                      axes=axes, axes_doc=doc, exp_perturbed=epert,
                                      noise=noise)
            report = one(tname, got, exp64[name], low[name], pert and pert[name])
            reports += [report] if name != "grad_inputs" else input_block_reports(
                one, case.model.family, case.config, report, got, exp64[name],
                low[name], pert and pert[name])
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
                                       exp_perturbed=pert and pert["grads"][n], noise=noise)
                        for n in names]
    for r in reports:   # the order of ``REQUIRED``
        r.check = check or r.tensor.split("/")[0]
    return apply_display_names(case.model.family, case.config, reports)


def compare_trace(case, trace, dtype, tolerance):
    exp64, low = case.expected["float64"], _baseline_for(case, dtype)
    pert = _perturbed(case)
    noise = _noise_from(case, dtype)
    entries = case.model.trace_entries
    T = case.inputs.shape[1]
    if trace is None:
        return [TensorReport("trace", "trace", Mark.NOT_COMPARED, Kind.ABSENT,
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
                exp_perturbed=pert and pert["trace"][e.name],
                noise=_noise_mask(noise, e.stage,
                                  range(T) if e.steps is None else e.steps(T))))
            if e.steps is not None:
                restride(reports[-1], e.steps(T), T)
    return reports


def compare_result(case, result, dtype: str, tolerance: Tolerance) -> tuple:
    """All tensors of one Result -> (list of TensorReport, divergence dict or None)."""
    reports = compare_outputs(case, result, dtype, tolerance)
    reports += compare_trace(case, _part(result, "trace"), dtype, tolerance)
    return reports, describe_divergence(case.model.family, case.config,
                                        locate(reports, case.model.trace_entries))



# ---------------------------------------------------------------- running a backend

def describe_exception(exc: BaseException) -> str:
    """Type, message and the last frame, e.g. for a backend that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class RunTimeout(Exception):
    """A backend call that did not return within the run time limit."""


def call_backend(backend, case, *, want_trace, want_grads, timeout=None, notes=None,
                 clock=None):
    """One ``backend.run`` on copies of the case's arrays (a backend that writes into its
    inputs must not corrupt the case; ``notes``, a list, gets a note when it did).  With
    ``timeout`` (seconds) the call runs in a helper thread and a call that has not
    returned by then raises ``RunTimeout``; the thread is left behind (it cannot be
    stopped), which is why the caller stops using that backend object afterwards.
    ``clock`` (a dict) adds the call's seconds to "backend" and what the Result reports
    as compiling (``extras["compile_s"]``) to "compile"."""
    def run():
        given = given_arrays(case)
        started = time.perf_counter()
        try:
            result = backend.run(case.config, given["params"], given["inputs"],
                                 given["targets"], given["mask"],
                                 want_trace=want_trace, want_grads=want_grads)
        finally:
            if clock is not None:
                clock["backend"] += time.perf_counter() - started
        compiled = getattr(result, "extras", {}).get("compile_s") \
            if isinstance(getattr(result, "extras", None), dict) else None
        if clock is not None and isinstance(compiled, (int, float)) and compiled == compiled:
            clock["compile"] += float(compiled)
        note = modified(case, given)
        if note is not None and notes is not None and note not in notes:
            notes.append(note)
        return result
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
        model = case.model
        if dtype not in model.dtypes:
            reason = (f"the {model.spec_version} reference has no {dtype} run to bound it "
                      f"with (it runs {', '.join(model.dtypes)})")
        if reason is not None:
            raise Unsupported(reason)
        notes, clock = [], {"backend": 0.0, "compile": 0.0}
        result = call_backend(backend, case, want_trace=True, want_grads=True, timeout=timeout,
                              notes=notes, clock=clock)
        out = compare_case(case, result, dtype, tolerance, backend_name=name)
        out.same_kernel = bool(getattr(backend, "float64_is_same_kernel", False))
        out.observations = notes
        if out.error is None:
            note = higher_precision(out.tensors, dtype)
            if note is not None:
                notes.append(note)
        if out.error is not None or not paths:
            return _timed(out, start, clock)
        bare = call_backend(backend, case, want_trace=False, want_grads=False, timeout=timeout,
                            notes=notes, clock=clock)
        out.tensors += compare_outputs(case, bare, dtype, tolerance, prefix="untraced/",
                                       check="untraced", parts=("logits", "loss"))
        if not repeat:
            return _timed(out, start, clock)
        again = call_backend(backend, case, want_trace=True, want_grads=True, timeout=timeout,
                             notes=notes, clock=clock)
        out.tensors += compare_outputs(case, again, dtype, tolerance, prefix="repeat/",
                                       check="repeat")
        note = nondeterministic(result, again)
        if note is not None:
            notes.append(note)
            for r in out.tensors:   # a repeat failure says why
                if r.check == "repeat" and r.status == Mark.FAIL:
                    r.message += f" ({note})"
        return _timed(out, start, clock)
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


def _timed(out, start, clock):
    out.seconds = time.perf_counter() - start
    out.timing = {"backend": clock["backend"], "compile": clock["compile"],
                  "harness": max(0.0, out.seconds - clock["backend"])}
    return out


def compare_case(case, result, dtype, tolerance, *, backend_name="backend", seconds=0.0):
    if result is None or isinstance(result, (str, bytes, int, float, tuple, list)):
        return CaseResult(case.name, backend_name, dtype, seconds,
                          error=f"the backend returned {type(result).__name__}, expected a "
                                f"diffmem.backends.Result (logits, loss, grads, grad_inputs, "
                                f"trace)")
    try:
        reports, divergence = compare_result(case, result, dtype, tolerance)
        suspect = find_suspect(reports, case.model.trace_entries) if dtype == "float64" \
            else None
        if suspect is not None and divergence and divergence.in_trace:
            # Only a clue upstream of the first divergence tells something new; past it,
            # the divergence's own downstream effects are far above rounding anyway.
            if suspect.stage is None or (suspect.step, suspect.stage) >= \
                    (divergence.step, divergence.stage):
                suspect = None
    except Exception as exc:   # the harness never crashes on a strange Result
        return CaseResult(case.name, backend_name, dtype, seconds,
                          error=f"could not compare the backend's Result: "
                                f"{describe_exception(exc)}")
    return CaseResult(case.name, backend_name, dtype, seconds, reports, divergence=divergence,
                      suspect=suspect)


