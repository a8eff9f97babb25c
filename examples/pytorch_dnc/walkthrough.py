"""Re-run the pytorch-dnc case study and write it as Markdown (docs/pytorch-dnc.md).

For k = 0 .. len(PATCHES): apply the first k patches, run diffmem's check (its library:
``run_case`` and the report's formatting, so improved messages show up on a re-run) on
every dnc/1 fixture case pytorch-dnc can express, in float64, and record what diffmem
printed: the first-divergence line of each case, the failing tensors of one case, and the
patch that removes the difference.  Then: float32 with every patch, each patch left out
in turn (is it necessary?), the interface as ten independent Linears (the spec's
stacking), and where pytorch-dnc's gradients are not finite.

    PYTHONPATH=.:/tmp/pytorch-dnc python -m examples.pytorch_dnc.walkthrough \\
        --out docs/pytorch-dnc.md
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import sys
import time

import numpy as np

from examples.pytorch_ntm.walkthrough import step_section

from .adapter import PyTorchDNC, unsupported_reason
from .patches import PATCHES

CLONE = "git clone https://github.com/ixaxaar/pytorch-dnc /tmp/pytorch-dnc"


def expressible_cases(fixtures=None, pattern="dnc-*"):
    from diffmem.harness.fixture_io import case_names, case_path, load_case
    cases, skipped = [], []
    for name in case_names(fixtures, pattern):
        case = load_case(case_path(name, fixtures))
        reason = unsupported_reason(case.config.to_dict())
        (skipped.append((name, reason)) if reason else cases.append(case))
    return cases, skipped


def run_step(patches, cases, dtype, trace="wrapped", linears="one"):
    from diffmem.harness.compare import run_case
    backend = PyTorchDNC("cpu", dtype, patches, trace, linears)
    return [run_case(backend, case, dtype, paths=False) for case in cases]


def passed(results):
    return sum(r.status == "pass" for r in results)


def first_line(results):
    """The first line of the first failing case's first divergence (or of its error), ''
    if all pass."""
    failed = [r for r in results if r.status != "pass"]
    return "" if not failed else \
        (failed[0].first_divergence or failed[0].error or "").splitlines()[0]


def cell(line, limit=None):
    line = line.replace("|", "/") or "-"
    return line if limit is None or len(line) <= limit else line[:limit] + " ..."


def non_finite_gradients(patches, cases):
    """{case: [gradient tensors with a NaN or an infinity]} of pytorch-dnc in float64."""
    backend = PyTorchDNC("cpu", "float64", patches, "hooks")
    out = {}
    for case in cases:
        r = backend.run(case.config, case.params, case.inputs, case.targets, case.mask,
                        want_trace=False, want_grads=True)
        bad = [f"grads/{k}" for k, v in r.grads.items() if not np.all(np.isfinite(v))]
        bad += [] if np.all(np.isfinite(r.grad_inputs)) else ["grad_inputs"]
        if bad:
            out[case.name] = bad
    return out


def walkthrough(pattern="dnc-*", partial=True, log=sys.stderr):
    """Every step's results -> the Markdown sections and a summary row per step.  With
    ``partial``, each step also runs with the ``hooks`` trace (what pytorch-dnc's modules
    expose) to show what diffmem says from a partial trace."""
    cases, skipped = expressible_cases(pattern=pattern)
    if not cases:
        raise SystemExit(f"no dnc/1 fixture case matches {pattern!r} (diffmem fixtures list)")
    sections, summary = [], []
    for k in range(len(PATCHES) + 1):
        start = time.perf_counter()
        results = run_step(PATCHES[:k], cases, "float64")
        row = {"k": k, "passed": passed(results), "total": len(results),
               "line": first_line(results)}
        sections += step_section(k, PATCHES[:k], results, "float64")
        if partial:
            hooks = run_step(PATCHES[:k], cases, "float64", "hooks")
            row["hooks_passed"], row["hooks_line"] = passed(hooks), first_line(hooks)
            sections += ["With the partial trace (`DIFFMEM_PYDNC_TRACE=hooks`): "
                         f"{row['hooks_passed']} of {len(hooks)} pass; first failing case:", "",
                         "```", row["hooks_line"] or "-", "```", ""]
        if k < len(PATCHES):
            sections += [f"**Difference {k + 1} -> patch `{PATCHES[k].name}`**: "
                         f"{PATCHES[k].difference}.", ""]
        print(f"step {k}: {row['passed']}/{len(results)} pass in float64 "
              f"({time.perf_counter() - start:.0f} s)", file=log)
        summary.append(row)
    results64 = results
    results32 = run_step(PATCHES, cases, "float32")
    print(f"float32, all patches: {passed(results32)}/{len(results32)} pass", file=log)
    sections += step_section(len(PATCHES), PATCHES, results32, "float32")
    necessity = {}
    for p in PATCHES:   # each patch necessary: without it, something fails
        res = run_step(tuple(q for q in PATCHES if q is not p), cases, "float64")
        necessity[p.name] = (passed(res), len(res), first_line(res))
        print(f"without {p.name}: {necessity[p.name][0]}/{len(res)} pass", file=log)
    independent = run_step(PATCHES, cases, "float64", linears="independent")
    print(f"independent linears: {passed(independent)}/{len(independent)} pass", file=log)
    nan = {"none": non_finite_gradients((), cases),
           "all": non_finite_gradients(PATCHES, cases)}
    return {"cases": cases, "skipped": skipped, "sections": sections, "summary": summary,
            "results64": results64, "results32": results32, "necessity": necessity,
            "independent": independent, "nan": nan}


def _nan_lines(nan):
    out = []
    for which, label in (("none", "pytorch-dnc as published"), ("all", "every patch")):
        found = nan[which]
        out.append(f"- {label}: " + ("finite on every case." if not found else "; ".join(
            f"`{case}`: {', '.join(names)}" for case, names in found.items()) + "."))
    return out


def render(study):
    from diffmem.harness.report import format_table
    cases, summary, results32 = study["cases"], study["summary"], study["results32"]
    unsupported = collections.defaultdict(list)
    for name, why in study["skipped"]:
        unsupported[why].append(f"`{name}`")
    out = ["# pytorch-dnc through diffmem: every difference from dnc/1, found by the oracle", "",
           "Generated by `python -m examples.pytorch_dnc.walkthrough` (do not edit by hand).", "",
           "[ixaxaar/pytorch-dnc](https://github.com/ixaxaar/pytorch-dnc) (MIT; its `dnc` "
           "package, unmodified) runs through the adapter backend `examples/pytorch_dnc`: "
           "its own `DNC` (one layer; an `nn.LSTM` controller, or an `nn.RNN` with tanh and a "
           "zero recurrent matrix for dnc/1's feedforward one), diffmem's parameters loaded "
           "into it, dnc/1's initial state passed as its `hx`, intermediates observed by "
           "forward hooks and by wrapping `Memory`'s methods. Each step applies one more "
           "patch from `examples/pytorch_dnc/patches.py`, in the order the first-divergence "
           "line pointed, and re-runs the check in float64 on the dnc/1 fixture cases "
           "pytorch-dnc can express:", "",
           ", ".join(f"`{c.name}`" for c in cases) + ".", ""]
    if unsupported:
        out += ["Not expressible (the adapter raises `Unsupported`):", ""]
        out += [f"- {why}: {', '.join(names)}" for why, names in unsupported.items()]
        out.append("")
    out += ["Reproduce one step with the CLI (here: the first 3 patches):", "", "```sh", CLONE,
            "PYTHONPATH=.:/tmp/pytorch-dnc DIFFMEM_PYDNC_PATCHES=3 \\",
            "  diffmem check --backend examples.pytorch_dnc:make_backend --dtype float64 "
            "--cases 'dnc-*'", "```", "",
            "## Summary", "",
            "| step | patches applied | float64 passing | first divergence (first failing "
            "case) | partial trace (`hooks`): passing, first line |",
            "|---|---|---|---|---|"]
    for row in summary:
        k = row["k"]
        out.append(f"| {k} | {f'1-{k} (+ {PATCHES[k - 1].name})' if k else 'none'} | "
                   f"{row['passed']}/{row['total']} | {cell(row['line'])} | "
                   f"{row.get('hooks_passed', '-')}/{row['total']}: "
                   f"{cell(row.get('hooks_line', ''), 160)} |")
    out.append(f"| final | all {len(PATCHES)} | float32: {passed(results32)}/"
               f"{len(results32)} | | |")
    necessity, independent = study["necessity"], study["independent"]
    out += ["", "## The differences", "",
            "*Without it*: float64 cases passing with every other patch applied (the patch "
            "is necessary when that is below the total).", "",
            "| # | patch | difference from dnc/1 | without it |", "|---|---|---|---|"]
    out += [f"| {i + 1} | `{p.name}` | {cell(p.difference)} | {necessity[p.name][0]}/"
            f"{necessity[p.name][1]}: {cell(necessity[p.name][2], 120)} |"
            for i, p in enumerate(PATCHES)]
    out += ["", "What needed no patch, because pytorch-dnc's own API expresses it: the "
            "initial memory and reads (`init.memory`, `init.read`) and a zero controller "
            "state, passed as `hx` (left None, pytorch-dnc draws the controller state with "
            "`xavier_uniform_`); the output width (its output layer is as wide as its "
            "input; the adapter builds it max(X, Y) wide with zero padding); dnc/1's loss "
            "(its copy task's `binary_cross_entropy_with_logits`, summed and masked). "
            "`DNC.forward` with `batch_first=True` returns its outputs time-first; the "
            "adapter transposes them.", "",
            f"With the interface as ten independent Linears (`DIFFMEM_PYDNC_LINEARS="
            f"independent`, the rows stacked in DNC.md's table order) and every patch: "
            f"{passed(independent)}/{len(independent)} pass in float64.", "",
            "## NaN gradients", "",
            "pytorch-dnc's README: \"`nan`s in the gradients are common\". On these cases, "
            "float64:", ""] + _nan_lines(study["nan"]) + [
            "", "Its usage floor (patch `no_usage_floor` removes it) keeps every factor of "
            "the exclusive product above 1e-6, and torch's `cumprod` backward does not divide "
            "by a zero factor; dnc/1's exact zeros of usage (the `free` and `full` regimes) "
            "therefore give no NaN here either. A backend whose gradient divides by the factor does: "
            "the catalogue's `cumprod_grad_by_division`.", "",
            "## Step by step", ""] + study["sections"]
    for dtype in ("float64", "float32"):
        out += [f"## Final {dtype} table (all patches)", "", "```",
                format_table(study[f"results{dtype[-2:]}"]), "```", ""]
    # diffmem's messages name files by absolute path; the document names them from the root
    root = str(pathlib.Path(__file__).resolve().parents[2]) + "/"
    return "\n".join(out).replace(root, "")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="Markdown file to write (default: stdout)")
    parser.add_argument("--cases", default="dnc-*",
                        help="case name glob (default: every dnc/1 fixture case)")
    args = parser.parse_args(argv)
    text = render(walkthrough(args.cases))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
