"""Re-run the pytorch-ntm case study and write it as Markdown (docs/pytorch-ntm.md).

For k = 0 .. len(PATCHES): apply the first k patches, run diffmem's check (its library:
``run_case`` and the report's formatting, so improved messages show up on a re-run) on
every fixture case pytorch-ntm can express, in float64, and record what diffmem printed:
the first-divergence line of each case, the failing tensors of one case, and the patch
that removes the difference.  The last step also runs float32.

    PYTHONPATH=.:/tmp/pytorch-ntm python -m examples.pytorch_ntm.walkthrough \\
        --out docs/pytorch-ntm.md
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import time

from .adapter import PyTorchNTM, unsupported_reason
from .patches import PATCHES

_LISTED = 12  # failing-tensor lines shown per step


def expressible_cases(fixtures=None, pattern="*"):
    from diffmem.harness.fixture_io import case_names, case_path, load_case
    cases, skipped = [], []
    for name in case_names(fixtures, pattern):
        case = load_case(case_path(name, fixtures))
        reason = unsupported_reason(case.config.to_dict())
        (skipped.append((name, reason)) if reason else cases.append(case))
    return cases, skipped


def run_step(patches, cases, dtype, trace):
    from diffmem.harness.compare import run_case
    backend = PyTorchNTM("cpu", dtype, patches, trace)
    return [run_case(backend, case, dtype, paths=False) for case in cases]


def failing_lines(result):
    """What ``diffmem check`` prints under a failing case, as lines."""
    from diffmem.harness.report import format_failures
    return format_failures([result]).splitlines()[1:]


def step_section(k, patches, results, dtype):
    failed = [r for r in results if r.status != "pass"]
    applied = ", ".join(f"`{p.name}`" for p in patches) or "none"
    out = [f"### Step {k}: patches applied: {applied} ({dtype})", "",
           f"{len(results) - len(failed)} of {len(results)} cases pass.", ""]
    if not failed:
        return out
    by_line = collections.defaultdict(list)
    for r in failed:
        by_line[r.first_divergence or (r.error or "").splitlines()[0]].append(r.case)
    out += ["First-divergence line (cases):", "", "```"]
    out += [f"{line}    [{len(names)} case(s)"
            + (": " + ", ".join(names) if len(names) <= 3 else "") + "]"
            for line, names in sorted(by_line.items(), key=lambda item: -len(item[1]))]
    out += ["```", ""]
    first = failed[0]
    body = failing_lines(first)
    out += [f"What diffmem printed for `{first.case}`"
            + (f" (first {_LISTED} lines of {len(body)})" if len(body) > _LISTED else "")
            + ":", "", "```"] + body[:_LISTED] + ["```", ""]
    evidence = divergence_evidence(first)
    if evidence:
        out += [evidence, ""]
    return out


def divergence_evidence(result):
    """Measured for the reader (and for diffmem's own messages): the error-to-bound ratio of
    the diverging tensor at the divergence step, next to its worst element's, which is what
    the message prints; and the failing tensors with the largest ratios."""
    lines = []
    d = result.divergence
    report = (next((t for t in result.tensors if t.tensor == f"trace/{d['name']}"), None)
              if d and d.in_trace else None)
    if report is not None and report.step_ratios is not None and report.where is not None:
        at = float(report.step_ratios[d.step, d.head or 0])
        lines.append(f"Measured on `trace/{d['name']}`: error-to-bound ratio {at:.3g} at the "
                     f"divergence step t={d['step']}; the printed worst element is at "
                     f"t={report.where.get('t')}, ratio {report.ratio:.3g}.")
    worst = sorted((t for t in result.tensors if t.status == "fail" and t.ratio is not None),
                   key=lambda t: -t.ratio)[:3]
    if worst:
        lines.append("Largest ratios among its failing tensors: "
                     + ", ".join(f"`{t.tensor}` {t.ratio:.3g}" for t in worst) + ".")
    return " ".join(lines)


def _first_line(results):
    failed = [r for r in results if r.status != "pass"]
    if not failed:
        return ""
    return failed[0].first_divergence or (failed[0].error or "").splitlines()[0]


def walkthrough(trace="wrapped", pattern="*", partial=True, log=sys.stderr):
    """Every step's results -> the Markdown sections and a summary row per step.  With
    ``partial``, each step also runs with the ``hooks`` trace (what pytorch-ntm's modules
    expose) to show what diffmem says from a partial trace."""
    cases, skipped = expressible_cases(pattern=pattern)
    sections, summary = [], []
    for k in range(len(PATCHES) + 1):
        start = time.perf_counter()
        results = run_step(PATCHES[:k], cases, "float64", trace)
        passed = sum(r.status == "pass" for r in results)
        row = {"k": k, "passed": passed, "total": len(results), "line": _first_line(results)}
        sections += step_section(k, PATCHES[:k], results, "float64")
        if partial and trace != "hooks":
            hooks = run_step(PATCHES[:k], cases, "float64", "hooks")
            row["hooks_passed"] = sum(r.status == "pass" for r in hooks)
            row["hooks_line"] = _first_line(hooks)
            sections += ["With the partial trace (`DIFFMEM_PYNTM_TRACE=hooks`): "
                         f"{row['hooks_passed']} of {len(hooks)} pass; first failing case:", "",
                         "```", row["hooks_line"] or "-", "```", ""]
        if k < len(PATCHES):
            p = PATCHES[k]
            sections += [f"**Difference {k + 1} -> patch `{p.name}`**: {p.difference}.", "",
                         f"From the output to the cause: {p.clue}. Did the message alone point "
                         f"at it (judged when written): **{p.clear}**.", ""]
        print(f"step {k}: {passed}/{len(results)} pass in float64 "
              f"({time.perf_counter() - start:.0f} s)", file=log)
        summary.append(row)
    results64 = results
    results32 = run_step(PATCHES, cases, "float32", trace)
    print(f"float32, all patches: {sum(r.status == 'pass' for r in results32)}/"
          f"{len(results32)} pass", file=log)
    sections += step_section(len(PATCHES), PATCHES, results32, "float32")
    necessity = {}
    for p in PATCHES:   # each patch necessary: without it, something fails
        others = tuple(q for q in PATCHES if q is not p)
        res = run_step(others, cases, "float64", trace)
        necessity[p.name] = (sum(r.status == "pass" for r in res), len(res), _first_line(res))
        print(f"without {p.name}: {necessity[p.name][0]}/{len(res)} pass", file=log)
    if skipped:   # what diffmem says about a case the adapter cannot express
        from diffmem.harness.fixture_io import case_path, load_case
        other = run_step(PATCHES, [load_case(case_path(skipped[0][0]))], "float64", trace)[0]
        sections += [f"A case pytorch-ntm cannot express (`{other.case}`), all patches, "
                     f"float64: status `{other.status}`:", "", "```"]
        sections += failing_lines(other) or [other.first_divergence or "-"]
        sections += ["```", ""]
    return {"cases": cases, "skipped": skipped, "sections": sections, "summary": summary,
            "results64": results64, "results32": results32, "necessity": necessity}


def render(study, trace):
    from diffmem.harness.report import format_table
    cases, summary, results32 = study["cases"], study["summary"], study["results32"]
    unsupported = collections.defaultdict(list)
    for name, why in study["skipped"]:
        unsupported[why].append(f"`{name}`")
    out = ["# pytorch-ntm through diffmem: every difference from NTM.md, found by the oracle", "",
           "Generated by `python -m examples.pytorch_ntm.walkthrough` (do not edit by hand).", "",
           "[loudinthecloud/pytorch-ntm](https://github.com/loudinthecloud/pytorch-ntm) (BSD-3, "
           "not on PyPI) runs unmodified through the adapter backend `examples/pytorch_ntm` "
           "(its `EncapsulatedNTM`, diffmem's parameters loaded into it, intermediates observed "
           f"with trace level `{trace}`). Each step applies one more patch from "
           "`examples/pytorch_ntm/patches.py`, in the order the first-divergence line pointed, "
           "and re-runs the check in float64 on the fixture cases pytorch-ntm can express:", "",
           ", ".join(f"`{c.name}`" for c in cases) + ".", "",
           "Not expressible (the adapter raises `Unsupported`):", ""]
    out += [f"- {why}: {', '.join(names)}" for why, names in unsupported.items()]
    out += ["",
           "Reproduce one step with the CLI (here: the first 3 patches):", "", "```sh",
           "git clone https://github.com/loudinthecloud/pytorch-ntm /tmp/pytorch-ntm",
           f"PYTHONPATH=.:/tmp/pytorch-ntm DIFFMEM_PYNTM_PATCHES=3 DIFFMEM_PYNTM_TRACE={trace} \\",
           "  diffmem check --backend examples.pytorch_ntm:make_backend --dtype float64 \\",
           "  --cases '" + ",".join(c.name for c in cases) + "'", "```", "",
           "## Summary", "",
           "| step | patches applied | float64 passing | first divergence (first failing case) |"
           + (" partial trace (`hooks`): passing, first line |" if "hooks_line" in summary[0]
              else ""),
           "|---|---|---|---|" + ("---|" if "hooks_line" in summary[0] else "")]
    necessity = study["necessity"]
    for row in summary:
        k = row["k"]
        out.append(f"| {k} | {f'1-{k} (+ {PATCHES[k - 1].name})' if k else 'none'} | "
                   f"{row['passed']}/{row['total']} | {_cell(row['line'])} |"
                   + (f" {row['hooks_passed']}/{row['total']}: {_cell(row['hooks_line'], 160)} |"
                      if "hooks_line" in row else ""))
    out.append(f"| final | all {len(PATCHES)} | float32: "
               f"{sum(r.status == 'pass' for r in results32)}/{len(results32)} | |")
    out += ["", "## The differences", "",
            "*Without it*: float64 cases passing with every other patch applied (each patch is "
            "necessary when that is below the total). *Pointed at it*: whether diffmem's "
            "message alone led to the cause (judged when this list was written; the lines "
            "are regenerated).", "",
            "| # | patch | difference from NTM.md | without it | pointed at it |",
            "|---|---|---|---|---|"]
    out += [f"| {i + 1} | `{p.name}` | {_cell(p.difference)} | {necessity[p.name][0]}/"
            f"{necessity[p.name][1]}: {_cell(necessity[p.name][2], 120)} | {p.clear} |"
            for i, p in enumerate(PATCHES)]
    out += ["", "## Step by step", ""] + study["sections"]
    for dtype in ("float64", "float32"):
        out += [f"## Final {dtype} table (all patches)", "", "```",
                format_table(study[f"results{dtype[-2:]}"]), "```", ""]
    # diffmem's messages name files by absolute path; the document names them from the root
    root = str(pathlib.Path(__file__).resolve().parents[2]) + "/"
    return "\n".join(out).replace(root, "")


def _cell(line, limit=None):
    line = line.replace("|", "/") or "-"
    return line if limit is None or len(line) <= limit else line[:limit] + " ..."


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="Markdown file to write (default: stdout)")
    parser.add_argument("--trace", default="wrapped", choices=("hooks", "wrapped"),
                        help="trace level of the adapter (default wrapped: every entry; each step also runs with hooks, what its modules expose)")
    parser.add_argument("--cases", default="*", help="case name glob (default: all expressible)")
    args = parser.parse_args(argv)
    text = render(walkthrough(args.trace, args.cases), args.trace)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
