"""What a check run prints and writes: the terminal table, the summary, the JSON report.

JSON schema ``diffmem-report/1`` (documented in README.md): floats that are
not finite are written as the strings "inf", "-inf", "nan" (JSON has no such numbers).
"""

from __future__ import annotations

import json
import math
import pathlib
from importlib.metadata import PackageNotFoundError, version

from .compare import CHECKS, ERROR, FAIL, NOT_CHECKED, PASS
from .tolerance import Tolerance

SCHEMA_VERSION = "diffmem-report/1"
_TENSOR_FIELDS = ("tensor", "check", "status", "kind", "max_abs", "rel", "scale", "bound",
                  "ratio", "err32", "where", "got", "expected", "stage", "message")


def _ratio_text(ratio):
    return "-" if ratio is None else ("inf" if math.isinf(ratio) else f"{ratio:.3g}")


def _status_text(result):
    if result.status != PASS:
        return result.status.upper()
    # pass* : a part, or a single tensor, was not checked (never counted as passed)
    unchecked = [r for r in result.tensors if r.status == NOT_CHECKED]
    return "pass" if not unchecked else "pass*"


def format_table(results) -> str:
    """One line per (case, backend, dtype): status, worst error-to-bound ratio (<= 1 passes)
    and the first divergence."""
    header = ("case", "backend", "dtype", "status", "worst ratio", "first divergence")
    rows = [(r.case, r.backend, r.dtype, _status_text(r), _ratio_text(r.worst_ratio),
             r.first_divergence if r.error is None else r.error.splitlines()[0][:100])
            for r in results]
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(5)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row[:5], widths)) + "  " + row[5]
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[5]))
    return "\n".join(line.rstrip() for line in lines)


def summarise(results) -> dict:
    counts = {s: sum(r.status == s for r in results) for s in (PASS, FAIL, ERROR)}
    unchecked = {c: sum(r.error is None and any(t.check == c and t.status == NOT_CHECKED
                                                for t in r.tensors) for r in results)
                 for c in CHECKS}
    return {"runs": len(results), "passed": counts[PASS], "failed": counts[FAIL],
            "errors": counts[ERROR], "not_checked": {c: n for c, n in unchecked.items() if n},
            "ok": bool(results) and counts[FAIL] == counts[ERROR] == 0}


def format_summary(results) -> str:
    s = summarise(results)
    line = (f"{s['runs']} run(s): {s['passed']} passed, {s['failed']} failed, "
            f"{s['errors']} error(s)")
    if s["not_checked"]:
        line += ("; not checked (pass*): " + ", ".join(f"{c} in {n} run(s)"
                                                     for c, n in s["not_checked"].items()))
    worst = [r for r in results if r.worst_ratio is not None and r.status == PASS]
    if worst:
        w = max(worst, key=lambda r: r.worst_ratio)
        line += f"\nlargest error-to-bound ratio among passes: {_ratio_text(w.worst_ratio)} " \
                f"({w.case}, {w.backend})"
    return line + ("\nOK" if s["ok"] else "\nFAILED")


def format_failures(results, limit=None) -> str:
    """The messages of every failing check, case by case (what a kernel author reads)."""
    blocks = []
    for r in results:
        if r.status == PASS:
            continue
        lines = [f"== {r.case} [{r.backend}, {r.dtype}]: {r.status.upper()}"]
        if r.error is not None:
            lines.append("  " + r.error)
        else:
            if r.divergence:
                lines.append("  " + r.divergence["line"])
            for check in CHECKS:
                status, message = r.check(check)
                if status == FAIL:
                    body = message.splitlines()
                    if check == "trace" and r.divergence:
                        body = body[1:]   # the divergence line is already above
                    lines += [f"  [{check}] {m}" for m in body]
        blocks.append("\n".join(lines))
    if limit is not None and len(blocks) > limit:
        blocks = blocks[:limit] + [f"... and {len(blocks) - limit} more failing run(s) "
                                   f"(--report FILE writes them all)"]
    return "\n".join(blocks)


# ---------------------------------------------------------------- JSON

def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def result_dict(r) -> dict:
    return {
        "case": r.case, "backend": r.backend, "dtype": r.dtype, "status": r.status,
        "seconds": round(r.seconds, 6), "worst_ratio": r.worst_ratio,
        "first_divergence": r.first_divergence or None,
        "divergence": ({k: v for k, v in r.divergence.items()} if r.divergence else None),
        "error": r.error,
        "checks": {c: dict(zip(("status", "message"), r.check(c))) for c in CHECKS},
        "tensors": [{f: getattr(t, f) for f in _TENSOR_FIELDS} for t in r.tensors],
    }


def _diffmem_version():
    try:
        return version("diffmem")
    except PackageNotFoundError:
        return "unknown"


def report_dict(results, tolerance: Tolerance | None = None, *, fixtures=None) -> dict:
    tolerance = tolerance or Tolerance()
    tol = {d: dict(zip(("k", "rtol", "atol"), tolerance.constants(d)))
           for d in ("float32", "float64")}
    tol["overrides"] = [list(o) for o in tolerance.overrides]
    return _plain({
        "schema_version": SCHEMA_VERSION,
        "diffmem_version": _diffmem_version(),
        "fixtures": str(fixtures) if fixtures is not None else None,
        "tolerance": tol,
        "summary": summarise(results),
        "results": [result_dict(r) for r in results],
    })


def write_report(path, results, tolerance=None, *, fixtures=None):
    path = pathlib.Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report_dict(results, tolerance, fixtures=fixtures), indent=1,
                               allow_nan=False) + "\n", encoding="utf-8")
    return path
