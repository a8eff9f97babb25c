"""What a check concludes: the typed statuses, one tensor's report, one run's result.

A run (a backend on a case in one dtype) is ``Status.PASS`` only when every required part
was returned and every tensor compared within its bound (README.md / docs/harness.md,
"Verdicts").  A tensor a low precision cannot resolve (``Mark.NOISE_ONLY``) passes once
a float64 run of the same kernel has checked it (``CaseResult.cover``); where there is
none, it is judged by the plausible-range bound alone and reported as not judgeable in
that precision (``CaseResult.judge_alone``), or, under ``--strict``, leaves the run
``INCOMPLETE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

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


class Kind(str, Enum):
    """What a tensor's report found: the reason behind its ``Mark``."""
    OK = "ok"
    VALUE = "value"                 # outside its bound
    NONFINITE = "nonfinite"         # NaN or Inf where the reference is finite
    SHAPE = "shape"
    DTYPE = "dtype"
    TYPE = "type"                   # not a numpy array (or not a dict of them)
    MISSING = "missing"             # a required tensor the backend did not return
    UNEXPECTED = "unexpected"       # a gradient for no parameter
    ABSENT = "absent"               # an optional trace entry not returned
    UNRESOLVED = "unresolved"       # the precision cannot resolve it (noise bound only)
    IMPLAUSIBLE = "implausible"     # outside the plausible-range bound

    def __str__(self):
        return self.value

    @property
    def malformed(self) -> bool:
        """The Result's shape of things is wrong: nothing can be said about the math."""
        return self in (Kind.SHAPE, Kind.DTYPE, Kind.TYPE, Kind.MISSING, Kind.UNEXPECTED)


@dataclass
class Divergence:
    """Where a failing run first went wrong (``localise.locate``): ``line`` is what a
    kernel author reads first; ``stage`` the ``Stage`` of a trace divergence, or
    ``OUTPUT`` / ``LOSS`` / ``GRADIENT_ONLY``, or None (not localised); ``step``, ``name``
    and ``head`` are set for a trace divergence only."""
    line: str
    stage: object = None
    step: int | None = None
    name: str | None = None
    head: int | None = None

    @property
    def in_trace(self) -> bool:
        return self.step is not None

    def to_dict(self) -> dict:
        out = {"line": self.line, "stage": self.stage}
        if self.in_trace:
            out.update(step=self.step, name=self.name, head=self.head)
        return out


@dataclass
class Suspect:
    """A float64 error far above rounding that hides inside its bound
    (``localise.find_suspect``): the tensor, its stage (None outside the trace), the step
    it was seen at (0 outside the trace) and the line that says so."""
    line: str
    tensor: str
    stage: object = None
    step: int = 0

    def to_dict(self) -> dict:
        return {"line": self.line, "tensor": self.tensor, "stage": self.stage}


PASS, FAIL, ERROR = Status.PASS, Status.FAIL, Status.ERROR
INCOMPLETE, UNSUPPORTED, NOT_COMPARED = Status.INCOMPLETE, Status.UNSUPPORTED, Status.NOT_COMPARED
REQUIRED = ("logits", "loss", "grads", "grad_inputs")
CHECKS = REQUIRED + ("trace", "untraced", "repeat")
MAX_LISTED = 4   # failing tensors spelled out in one check's message


@dataclass
class TensorReport:
    tensor: str
    check: str
    status: Mark
    kind: Kind
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
    stage: object = None              # the trace entry's Stage (diffmem.models.family)
    first_bad: dict | None = None   # trace: the worst element of the first failing step
    # float64: the element (a position, as ``where``, with its error and the rounding
    # floor) of the first step whose error is far above rounding
    suspect: dict | None = None
    covered_by: str | None = None   # NOISE_ONLY tensors the float64 run checked
    # NOISE_ONLY tensors: error over the noise bound capped at twice the tensor's scale (the
    # bound without a float64 run of the same kernel), its bound and where; and whether
    # the run was judged by it (``CaseResult.judge_alone``).
    plausible: dict | None = None
    judged_alone: bool = False
    step_ratios: np.ndarray | None = field(default=None, repr=False)  # trace: [T, heads]

    @property
    def passed(self) -> bool:
        return self.status == Mark.PASS or (self.status == Mark.NOISE_ONLY and (
            self.covered_by is not None or self.judged_alone))


@dataclass
class CaseResult:
    case: str
    backend: str
    dtype: str
    seconds: float
    tensors: list = field(default_factory=list)
    error: str | None = None          # backend exception (or unusable Result)
    unsupported: str | None = None    # the backend's reason, when it raised Unsupported
    divergence: Divergence | None = None
    suspect: Suspect | None = None
    source: str | None = None         # the --backend name or import path it was made from
    # The backend declared that its float64 run is the same kernel as this one
    # (``float64_is_same_kernel``): only then may a float64 run vouch for this one.
    same_kernel: bool = False
    heldout: bool = False             # a held-out random case (not a fixture)
    observations: list = field(default_factory=list)   # notes on what was seen (``notes``)
    # Where the run's seconds went (``report.timing``): "backend" (its calls, wall clock),
    # "compile" (of that, what the backend reports as compiling: Result.extras
    # ["compile_s"]), "harness" (comparing); "case" on a case's first run: loading the
    # fixture, or drawing a held-out case and running the reference on it.
    timing: dict = field(default_factory=dict)

    def check(self, name: str) -> tuple:
        """(Status, message) of one of ``CHECKS``."""
        if self.error is not None:
            return ERROR, self.error
        if self.unsupported is not None:
            return UNSUPPORTED, self.unsupported
        reports = [r for r in self.tensors if r.check == name]
        failed = [r for r in reports if r.status == Mark.FAIL]
        if failed:
            failed.sort(key=failure_order)
            lines = [r.message for r in failed[:MAX_LISTED]]
            if len(failed) > MAX_LISTED:
                lines.append(f"... and {len(failed) - MAX_LISTED} more failing tensor(s), "
                             f"worst first: " + ", ".join(
                                 f"{r.tensor} (ratio {format_ratio(r.ratio)})"
                                 for r in failed[MAX_LISTED:]))
            if name == "trace" and self.divergence and self.divergence.in_trace:
                lines.insert(0, self.divergence.line)
            return FAIL, "\n".join(lines)
        compared = [r for r in reports if r.status != Mark.NOT_COMPARED]
        if not compared:
            return NOT_COMPARED, (reports[0].message if reports else f"{name}: not compared")
        open_ = [r for r in compared if not r.passed]
        if open_:
            return INCOMPLETE, "\n".join(r.message for r in open_)
        worst = max(compared, key=lambda r: r.ratio or 0.0)
        notes = []
        alone = [r.tensor for r in compared if r.judged_alone]
        if alone:
            notes.append(not_judgeable_note(self.dtype, alone))
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
        return self.divergence.line if self.divergence else ""

    @property
    def noise_only(self) -> list:
        """Tensors this run could hold to its noise bound only."""
        return [r for r in self.tensors if r.status == Mark.NOISE_ONLY]

    @property
    def notes(self) -> list:
        """What the run showed beyond its verdict, one line each: tensors judged by the
        plausible-range bound alone, and the observations of ``compare.run_case``."""
        alone = self.not_judgeable
        return ([not_judgeable_note(self.dtype, alone)] if alone else []) \
            + list(self.observations)

    @property
    def not_judgeable(self) -> list:
        """Names of the tensors judged by the plausible-range bound alone, each once (the
        repeated call's copy of a tensor is the same tensor)."""
        names = [r.tensor.split("/", 1)[1] if r.check in ("untraced", "repeat") else r.tensor
                 for r in self.tensors if r.judged_alone]
        return list(dict.fromkeys(names))

    def cover(self, float64_run: "CaseResult") -> None:
        """Let the float64 run of the same kernel on the same case vouch for the tensors
        this low-precision run cannot resolve: each one it checked and passed is covered.
        A float64 run of another kernel (or of a backend that did not declare it the same
        kernel) proves nothing about this one's values."""
        if float64_run is None or float64_run.dtype != "float64" \
                or not (self.same_kernel and float64_run.same_kernel):
            return
        passed = {r.tensor for r in float64_run.tensors if r.status == Mark.PASS}
        for r in self.noise_only:
            if r.tensor in passed:
                r.covered_by = f"the float64 run ({float64_run.backend})"

    def judge_alone(self) -> None:
        """The tensors no float64 run of the same kernel covered, judged by the
        plausible-range bound alone (the noise bound capped at twice the tensor's scale, see
        ``tolerance.Tolerance.plausible_bound``): within it they are reported as not
        judgeable in this precision and do not hold the run back; outside it they fail
        (NaN, blow-ups, gross offsets)."""
        for r in self.noise_only:
            if r.covered_by is not None or r.plausible is None:
                continue
            p = r.plausible
            if p["ratio"] <= 1:
                r.judged_alone = True
                continue
            r.status, r.kind = Mark.FAIL, Kind.IMPLAUSIBLE
            r.ratio = p["ratio"]
            r.message = (f"{r.tensor}: outside any plausible {self.dtype} range at "
                         f"{format_where(p['where'])}: got {p['got']:.9g}, expected "
                         f"{p['expected']:.9g}, |error| {p['error']:.3g} vs bound "
                         f"{p['bound']:.3g} (ratio {format_ratio(p['ratio'])}): {self.dtype} "
                         f"cannot resolve this tensor and no float64 run of the same kernel "
                         f"checked it, so it is held to its noise bound capped at twice the "
                         f"tensor's scale ({r.scale:.3g})")


def not_judgeable_note(dtype, tensors) -> str:
    return (f"{len(tensors)} tensor(s) not judgeable in {dtype}: {', '.join(tensors)} "
            f"(held to the noise bound capped at twice each tensor's scale: NaN, blow-ups "
            f"and gross offsets fail, finer errors cannot be seen; a float64 run of the same "
            f"kernel checks them)")


def where_of(index, axes) -> dict:
    """Element index -> {"b", "t", "head", "index"} using the tensor's leading axis names."""
    out = {name: int(i) for name, i in zip(axes, index)}
    out["index"] = [int(i) for i in index[len(axes):]]
    return out


def format_where(where: dict) -> str:
    parts = [f"{k}={where[k]}" for k in ("b", "t", "head") if k in where]
    if where.get("index"):
        parts.append("index=(" + ", ".join(map(str, where["index"])) + ")")
    return " ".join(parts) if parts else "the scalar"


def format_ratio(value) -> str:
    return "-" if value is None else ("inf" if np.isinf(value) else f"{value:.3g}")


def failure_order(report):
    """Malformed entries first (they hide everything else), then trace entries by their
    first failing step, then the worst ratio first."""
    if report.ratio is None:
        return (0, 0, 0.0)
    step = report.first_bad["t"] if report.first_bad else 0
    return (1, step, -report.ratio)



_DIGITS = re.compile(r"\d+(\.\d+)?")


def error_signature(result) -> str | None:
    """Errors that differ only in numbers (sizes, addresses, case names) are one error."""
    if result.error is None:
        return None
    first = result.error.split(" (at ", 1)[0].splitlines()[0]
    return _DIGITS.sub("#", first.replace(result.case, "<case>"))


def cover_runs(results, strict=False) -> None:
    """Within one check, let each backend's float64 run vouch for what its other runs on
    the same case can hold to their noise bound only, where the backend declared both the
    same kernel (``CaseResult.cover``); what stays uncovered is judged by the
    plausible-range bound alone (``CaseResult.judge_alone``), unless ``strict`` (then the
    run is ``INCOMPLETE``).  Runs are matched by case and by the backend they were made
    from (``source``, else the backend's name less its dtype part)."""
    def key(r):
        return (r.case, r.source or r.backend.replace(r.dtype, "{dtype}"))
    float64 = {key(r): r for r in results if r.dtype == "float64" and r.error is None}
    for r in results:
        if r.dtype != "float64" and r.noise_only:
            r.cover(float64.get(key(r)))
            if not strict:
                r.judge_alone()

