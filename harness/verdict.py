"""What a check concludes: the typed statuses, one tensor's report, one run's result.

A run (a backend on a case in one dtype) is ``Status.PASS`` only when every required part
was returned and every tensor compared within its bound (README.md / docs/harness.md,
"Verdicts"); a tensor a low precision cannot resolve (``Mark.NOISE_ONLY``) passes only
once the same backend's float64 run has checked it (``CaseResult.cover``).
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
    stage: object = None              # the trace entry's Stage (diffmem.models.family)
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


def _ratio(value):
    return "-" if value is None else ("inf" if np.isinf(value) else f"{value:.3g}")


def _failure_order(report):
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

