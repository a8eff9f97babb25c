"""What a check run prints and writes: the terminal table, the summary, the JSON report.

The verdict (``verdict``) is the one rule the exit code, the summary line and the JSON's
``summary.ok`` share: every run PASS, where UNSUPPORTED runs count as passed only without
``--strict`` (and are always counted apart), and enough was judged (``coverage.py``)
unless ``--allow-unsupported``.

JSON schema ``diffmem-report/4`` (documented in docs/harness.md): floats that are not
finite are written as the strings "inf", "-inf", "nan" (JSON has no such numbers).
"""

from __future__ import annotations

import json
import math
import pathlib
from importlib.metadata import PackageNotFoundError, version

from diffmem.models.family import Stage

from .compare import (CHECKS, ERROR, FAIL, INCOMPLETE, PASS, UNSUPPORTED,
                      error_signature)
from .coverage import coverage
from .tolerance import Tolerance

# /3: a stage is {"number", "name"}; /4: summary.coverage, allow_unsupported,
# not_judgeable; per result heldout, same_kernel, notes; per tensor plausible, judged_alone;
# /5: shard ({"index", "count", "cases", "cases_in_all_shards"} or null), merged_from;
# timing (where the seconds went, in the workers) at the top and per result;
# /6: timing's "reference" (the held-out cases' reference runs, apart from "case")
SCHEMA_VERSION = "diffmem-report/6"
_TENSOR_FIELDS = ("tensor", "check", "status", "kind", "max_abs", "rel", "scale", "bound",
                  "ratio", "err32", "where", "got", "expected", "stage", "first_bad",
                  "suspect", "covered_by", "plausible", "judged_alone", "message")
STATUSES = (PASS, FAIL, ERROR, INCOMPLETE, UNSUPPORTED)


def _ratio_text(ratio):
    return "-" if ratio is None else ("inf" if math.isinf(ratio) else f"{ratio:.3g}")


def verdict(results, strict=False, allow_unsupported=False) -> bool:
    """True only when every run passed (and something ran), and enough was judged: some
    held-out case and at least half of the runs (``coverage.py``), unless
    ``allow_unsupported``."""
    allowed = {PASS} if strict else {PASS, UNSUPPORTED}
    enough = allow_unsupported or coverage(results).shortfall() is None
    return bool(results) and all(r.status in allowed for r in results) \
        and any(r.status == PASS for r in results) and enough


def _errors(results) -> dict:
    """Distinct errors, in order of first appearance -> (label, count, full text)."""
    out = {}
    for r in results:
        sig = error_signature(r)
        if sig is None:
            continue
        if sig not in out:
            out[sig] = [f"E{len(out) + 1}", 0, r.error]
        out[sig][1] += 1
    return out


def format_table(results) -> str:
    """One line per (case, backend, dtype): status, worst error-to-bound ratio (<= 1 passes)
    and the first divergence; an error met by several runs is spelt out once, below."""
    errors = _errors(results)

    def last_column(r):
        if r.error is not None:
            label, count, _ = errors[error_signature(r)]
            return f"{label}: {r.error.splitlines()[0][:90]}" if count == 1 else f"{label}"
        if r.unsupported is not None:
            return r.unsupported[:100]
        text = r.first_divergence.splitlines()[0] if r.first_divergence else ""
        if not text and r.status == INCOMPLETE:
            text = "not checked: " + ", ".join(t.tensor for t in r.noise_only if not t.passed)
        return text
    header = ("case", "backend", "dtype", "status", "worst ratio", "first divergence / note")
    rows = [(r.case, r.backend, r.dtype, str(r.status).upper(), _ratio_text(r.worst_ratio),
             last_column(r)) for r in results]
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(5)]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(row[:5], widths)) + "  " + row[5]
             for row in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(header[5]))
    repeated = [(label, count, text) for label, count, text in errors.values() if count > 1]
    if repeated:
        lines.append("")
        lines += [f"{label} ({count} runs): {text}{_error_hint(text)}"
                  for label, count, text in repeated]
    return "\n".join(line.rstrip() for line in lines)


def _error_hint(text) -> str:
    """The fix for errors whose cause is the set-up, not the kernel."""
    low = text.lower()
    if "outofmemory" in low or "out of memory" in low or "resource_exhausted" in low:
        return ("\n  fix: the device ran out of memory; run fewer processes at once (--jobs 1, "
                "the default on CUDA), and let JAX allocate on demand "
                "(XLA_PYTHON_CLIENT_PREALLOCATE=false; `diffmem doctor` shows free memory)")
    if "no cuda" in low or "sees no" in low or "cuda driver" in low:
        return "\n  fix: no usable GPU for this framework; `diffmem doctor` shows what each sees"
    if "cannot import" in low or "not importable" in low or "no module named" in low:
        return "\n  fix: install the backend's package into this environment"
    if low.startswith("timed out"):
        return "\n  fix: debug the hang with --jobs 1 on that case; --timeout sets the limit"
    return ""


def summarise(results, strict=False, allow_unsupported=False) -> dict:
    counts = {str(s): sum(r.status == s for r in results) for s in STATUSES}
    covered = sum(1 for r in results for t in r.tensors if t.covered_by)
    alone = sum(len(r.not_judgeable) for r in results)
    return {"runs": len(results), "passed": counts["pass"], "failed": counts["fail"],
            "errors": counts["error"], "incomplete": counts["incomplete"],
            "unsupported": counts["unsupported"], "strict": strict,
            "allow_unsupported": allow_unsupported,
            "low_precision_tensors_checked_by_float64": covered,
            "not_judgeable": alone,
            "coverage": coverage(results).as_dict(),
            "distinct_errors": len(_errors(results)),
            "ok": verdict(results, strict, allow_unsupported)}


def format_summary(results, strict=False, allow_unsupported=False) -> str:
    s = summarise(results, strict, allow_unsupported)
    cov = coverage(results)
    line = (f"{s['runs']} run(s): {s['passed']} passed, {s['failed']} failed, "
            f"{s['errors']} error(s), {s['incomplete']} incomplete, "
            f"{s['unsupported']} unsupported" + (" (counted as failures: --strict)"
                                                   if strict and s["unsupported"] else "")
            + f"; {cov.line()}")
    short = cov.shortfall()
    if short:
        line += (f"\ntoo little judged: {short}; "
                 + ("accepted (--allow-unsupported)" if allow_unsupported
                    else "not OK unless --allow-unsupported"))
    if s["distinct_errors"] and s["errors"] > s["distinct_errors"]:
        line += f"\n{s['errors']} errors, {s['distinct_errors']} distinct (see E1.. above)"
    if s["incomplete"]:
        line += ("\nincomplete: a low precision cannot resolve some tensors of those cases and "
                 "no float64 run of the same kernel checked them (--strict); run with --dtype "
                 "float64 as well")
    if s["not_judgeable"]:
        line += (f"\n{s['not_judgeable']} tensor(s) that a low precision cannot resolve and no "
                 f"float64 run of the same kernel checked were held to their noise bound capped "
                 f"at twice the tensor's scale only (not judgeable in that precision; see the notes)")
    if s["low_precision_tensors_checked_by_float64"]:
        line += (f"\n{s['low_precision_tensors_checked_by_float64']} tensor(s) that a low "
                 f"precision cannot resolve were held to its noise bound and checked by the "
                 f"backend's float64 run")
    worst = [r for r in results if r.worst_ratio is not None and r.status == PASS]
    if worst:
        w = max(worst, key=lambda r: r.worst_ratio)
        line += f"\nlargest error-to-bound ratio among passes: {_ratio_text(w.worst_ratio)} " \
                f"({w.case}, {w.backend})"
    suspects = [r for r in results if r.suspect]
    if suspects:
        line += f"\nsuspects (float64 errors far above rounding): {len(suspects)} run(s)"
    return line + ("\nOK" if s["ok"] else "\nFAILED")


TIMING = ("case", "reference", "backend", "compile", "harness")


def timing(results) -> dict:
    """Seconds added over the runs: "case" loading fixtures, "reference" drawing the
    held-out cases with the reference's runs on them (in the parent beside the workers,
    or in a worker that reached one first), "backend" in its calls (of which "compile" is
    what it reported as compiling), "harness" comparing."""
    return {k: round(sum(r.timing.get(k, 0.0) for r in results), 3) for k in TIMING}


def format_timing(results, wall=None) -> str:
    t = timing(results)
    return ((f"time: {wall:.1f} s wall; " if wall is not None else "time: ")
            + f"{t['backend']:.1f} s in the backend ({t['compile']:.1f} s of it compiling, as "
              f"the backend reports); diffmem: {t['reference']:.1f} s drawing the held-out "
              f"cases with the reference's runs (beside the backend), {t['case']:.1f} s "
              f"loading fixtures, {t['harness']:.1f} s comparing")


def format_failures(results, limit=None) -> str:
    """The messages of every failing check, case by case (what a kernel author reads),
    then the runs that passed with notes (``CaseResult.notes``); ``limit`` applies to
    each of the two lists, so notes never push a failure off the screen."""
    blocks, noted = [], []
    errors = _errors(results)
    for r in results:
        if r.status in (PASS, UNSUPPORTED) and not r.suspect:
            if r.notes:
                noted.append("\n".join([f"== {r.case} [{r.backend}, {r.dtype}]: "
                                        f"{str(r.status).upper()}"]
                                       + [f"  note: {n}" for n in r.notes]))
            continue
        lines = [f"== {r.case} [{r.backend}, {r.dtype}]: {str(r.status).upper()}"]
        lines += [f"  note: {n}" for n in r.notes]
        if r.error is not None:
            label, count, _ = errors[error_signature(r)]
            if count > 1:
                continue   # spelt out once under the table
            lines.append("  " + r.error + _error_hint(r.error))
        else:
            if r.divergence:
                lines += ["  " + x for x in r.divergence.line.splitlines()]
            if r.suspect:
                lines.append("  " + r.suspect.line)
            for check in CHECKS:
                status, message = r.check(check)
                if status in (FAIL, INCOMPLETE):
                    body = message.splitlines()
                    if check == "trace" and r.divergence and r.divergence.in_trace:
                        body = body[len(r.divergence.line.splitlines()):]
                    lines += [f"  [{check}] {m}" for m in body]
        blocks.append("\n".join(lines))
    if limit is not None and len(blocks) > limit:
        blocks = blocks[:limit] + [f"... and {len(blocks) - limit} more failing run(s) "
                                   f"(--report FILE writes them all)"]
    if limit is not None and len(noted) > limit:
        noted = noted[:limit] + [f"... and {len(noted) - limit} more run(s) with notes "
                                 f"(--report FILE writes them all)"]
    return "\n".join(blocks + noted)


# ---------------------------------------------------------------- JSON

def _plain(value):
    if isinstance(value, Stage):
        return {"number": value.number, "name": value.name}
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def result_dict(r) -> dict:
    return {
        "case": r.case, "backend": r.backend, "dtype": r.dtype, "status": str(r.status),
        "seconds": round(r.seconds, 6), "worst_ratio": r.worst_ratio,
        "first_divergence": r.first_divergence or None,
        "divergence": _plain(r.divergence.to_dict()) if r.divergence else None,
        "suspect": _plain(r.suspect.to_dict()) if r.suspect else None, "error": r.error, "unsupported": r.unsupported,
        "heldout": r.heldout, "same_kernel": r.same_kernel, "notes": r.notes,
        "timing": {k: round(v, 6) for k, v in r.timing.items()},
        "checks": {c: {"status": str(st), "message": msg}
                   for c in CHECKS for st, msg in [r.check(c)]},
        "tensors": [{f: (str(v) if f == "status" else _plain(v) if f == "stage" else v)
                     for f in _TENSOR_FIELDS for v in [getattr(t, f)]} for t in r.tensors],
    }


def _diffmem_version():
    try:
        return version("diffmem")
    except PackageNotFoundError:
        return "unknown"


def report_dict(results, tolerance: Tolerance | None = None, *, fixtures=None,
                manifest_sha256=None, seed=None, strict=False, seconds=None,
                allow_unsupported=False, complete=True, shard=None) -> dict:
    from .pin import PINNED_MANIFEST_SHA256
    tolerance = tolerance or Tolerance()
    tol = {d: dict(zip(("k", "rtol", "atol"), tolerance.constants(d)))
           for d in sorted({r.dtype for r in results} | {"float32", "float64"})}
    tol["overrides"] = [list(o) for o in tolerance.overrides]
    return _plain({
        "schema_version": SCHEMA_VERSION,
        "diffmem_version": _diffmem_version(),
        "fixtures": str(fixtures) if fixtures is not None else None,
        "fixtures_manifest_sha256": manifest_sha256,
        "fixtures_pinned": manifest_sha256 == PINNED_MANIFEST_SHA256 if manifest_sha256
        else None,
        "heldout_seed": seed,
        "seconds": seconds,
        "timing": timing(results),
        # False: the check was interrupted; runs it never did are errors "not run: ..."
        "complete": complete,
        # one shard of a check split with --shard (``diffmem report merge`` joins them)
        "shard": shard,
        "tolerance": tol,
        "summary": summarise(results, strict, allow_unsupported),
        "results": [result_dict(r) for r in results],
    })


def write_report(path, results, tolerance=None, *, fixtures=None, **extra):
    """Write the JSON report (whole or not at all: a full disk leaves an older report as
    it was); its folder must exist (``check_output_path``, before the check)."""
    from diffmem.usage import write_file_atomically
    path = pathlib.Path(path)
    text = json.dumps(report_dict(results, tolerance, fixtures=fixtures, **extra), indent=1,
                      allow_nan=False) + "\n"
    write_file_atomically(path, lambda tmp: pathlib.Path(tmp).write_text(text, "utf-8"),
                          "--report")
    return path
