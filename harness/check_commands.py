"""``diffmem check`` and ``diffmem calibrate``.

``check`` runs backends on the golden fixtures and compares (``compare.py``) against the
tolerance model (``tolerance.py``); it prints a progress bar (stderr), a table, the
failure messages and a summary (stdout), and exits 0 only when every run passed.
"""

from __future__ import annotations

import argparse
import sys

from .compare import CaseResult, run_case

DEFAULT_BACKENDS = ("jax", "torch")


def add_tolerance_options(parser):
    group = parser.add_argument_group(
        "tolerance (README.md, 'Tolerance'); default: the calibrated bounds")
    group.add_argument("--k", type=float, default=None, metavar="K",
                       help="float32: multiple of the reference's own float32 error allowed")
    group.add_argument("--rtol", type=float, default=None, metavar="R",
                       help="relative floor (x the tensor's max |value|), every dtype checked")
    group.add_argument("--atol", type=float, default=None, metavar="A",
                       help="absolute floor, every dtype checked")
    group.add_argument("--tolerance", action="append", default=[], metavar="PATTERN=RTOL",
                       help="fixed relative bound for matching tensors, e.g. 'grads/*=1e-4' "
                            "or 'trace/read.weight=1e-5' (repeatable)")


def tolerance_from_args(args):
    from .tolerance import make_tolerance
    return make_tolerance(args.k, args.rtol, args.atol, args.tolerance)


def add_check_commands(subparsers):
    p = subparsers.add_parser(
        "check", help="check backends against the golden fixtures (the main job)",
        description="Run backends on the golden fixtures and compare their logits, loss, "
                    "gradients and trace with the frozen reference. Exit status 0 only if "
                    "every run passed.")
    p.add_argument("--backend", action="append", default=None, metavar="NAME|module:factory",
                   help="a registered backend (jax, torch, reference) or an import path "
                        "package.module:make_backend; repeatable (default: jax and torch)")
    p.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N' (default cpu)")
    p.add_argument("--dtype", default="both",
                   choices=("float32", "float64", "both", "tf32", "bfloat16", "float16"),
                   help="backend precision (default both: float32 and float64); tf32, "
                        "bfloat16, float16 for kernels whose matrix products are lower "
                        "(docs/precision.md)")
    p.add_argument("--cases", default="*", metavar="GLOB",
                   help="case names (shell glob, comma-separated for several; default all)")
    p.add_argument("--fixtures", default=None, metavar="DIR",
                   help="fixture folder (default: the installed diffmem fixtures)")
    p.add_argument("--report", default=None, metavar="FILE", help="write a JSON report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="worker processes (default: one per CPU core, at most 4); 1 runs "
                        "everything in this process")
    p.add_argument("--max-failures", type=int, default=20, metavar="N",
                   help="failing runs whose messages are printed in full (default 20)")
    add_tolerance_options(p)
    p.set_defaults(func=cmd_check)

    from .calibrate import add_calibrate_command
    add_calibrate_command(subparsers, add_tolerance_options)


def _dtypes(choice):
    return ("float32", "float64") if choice == "both" else (choice,)


_BACKENDS = {}   # (spec, device, dtype) -> backend, per process: compiled code is reused


def _run_group(spec, device, dtype, cases, tolerance):
    """One backend and dtype on some cases -> list of CaseResult (never raises)."""
    from diffmem.backends.protocol import load_backend

    from .compare import describe_exception
    key = (spec, device, dtype)
    if key not in _BACKENDS:
        try:
            _BACKENDS[key] = load_backend(spec, device, dtype)
        except Exception as exc:   # unknown name, import error, bad device: one row
            _BACKENDS[key] = CaseResult("(all cases)", spec, dtype, 0.0,
                                        error=f"could not make backend {spec!r} ({device}, "
                                              f"{dtype}): {describe_exception(exc)}")
    backend = _BACKENDS[key]
    if isinstance(backend, CaseResult):
        return [backend]
    return [run_case(backend, case, dtype, tolerance) for case in cases]


def _run_group_by_name(spec, device, dtype, fixtures, names, tolerance):
    # In a worker process: cases travel by name and are loaded (and hash-checked) here.
    from .fixture_io import case_path, load_case
    return _run_group(spec, device, dtype, [load_case(case_path(n, fixtures)) for n in names],
                      tolerance)


def _shape_groups(cases):
    """Cases that share a config and array shapes: one JAX compile serves each group."""
    groups = {}
    for case in cases:
        key = (repr(case.config), case.inputs.shape, case.targets.shape)
        groups.setdefault(key, []).append(case)
    return list(groups.values())


def default_jobs():
    import os
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))


def run_check(cases, backends, dtypes, device="cpu", tolerance=None, progress=True,
              jobs=1, fixtures=None):
    """Every (backend, dtype) on every case -> list of CaseResult, in (backend, dtype,
    case) order (never raises for a bad backend: a factory that fails gives one error row).

    With ``jobs > 1`` the work is spread over worker processes (spawned: JAX and torch
    must not be forked), one task per (backend, dtype, group of same-shaped cases), so
    each compiled program is reused within its task.
    """
    tasks = [(spec, dtype, group) for spec in backends for dtype in dtypes
             for group in _shape_groups(cases)]
    bar = _progress(len(backends) * len(dtypes) * len(cases), progress)
    done = {}
    jobs = min(jobs, len(tasks))
    if jobs <= 1:
        for i, (spec, dtype, group) in enumerate(tasks):
            bar.set_postfix_str(f"{spec} {dtype} {group[0].name}", refresh=False)
            done[i] = _run_group(spec, device, dtype, group, tolerance)
            bar.update(len(group))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_run_group_by_name, spec, device, dtype, fixtures,
                                   [c.name for c in group], tolerance): i
                       for i, (spec, dtype, group) in enumerate(tasks)}
            for future in as_completed(futures):
                i = futures[future]
                spec, dtype, group = tasks[i]
                try:
                    done[i] = future.result()
                except Exception as exc:   # a worker died (e.g. a segfaulting kernel)
                    from .compare import describe_exception
                    done[i] = [CaseResult(c.name, spec, dtype, 0.0,
                                          error=f"the worker process running it failed: "
                                                f"{describe_exception(exc)}; run with --jobs 1 "
                                                f"to debug") for c in group]
                bar.set_postfix_str(f"{spec} {dtype} {group[0].name}", refresh=False)
                bar.update(len(group))
    bar.close()
    order = {c.name: i for i, c in enumerate(cases)}
    rows, failed_factories = [], set()
    for i, (spec, dtype, group) in enumerate(tasks):
        rank = (backends.index(spec), dtypes.index(dtype))
        for r in done[i]:
            if r.case == "(all cases)":       # one row per backend that could not be made
                if (spec, dtype) in failed_factories:
                    continue
                failed_factories.add((spec, dtype))
            rows.append((rank, order.get(r.case, -1), r))
    return [r for _, _, r in sorted(rows, key=lambda row: row[:2])]


def _progress(total, enabled):
    from tqdm import tqdm
    return tqdm(total=total, unit="run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, leave=False)


def load_cases(fixtures, pattern):
    from .fixture_io import case_names, case_path, load_case
    names = case_names(fixtures, pattern)
    if not names:
        raise ValueError(f"--cases {pattern!r}: no fixture case matches (see `diffmem "
                         f"fixtures list`)")
    return [load_case(case_path(n, fixtures)) for n in names]


def cmd_check(args) -> int:
    from .report import format_failures, format_summary, format_table, write_report
    try:
        tolerance = tolerance_from_args(args)
        cases = load_cases(args.fixtures, args.cases)
    except ValueError as exc:   # FixtureError is a ValueError
        print(f"diffmem check: {exc}", file=sys.stderr)
        return 2
    backends = args.backend or list(DEFAULT_BACKENDS)
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        print(f"diffmem check: --jobs: expected an integer >= 1, got {jobs}", file=sys.stderr)
        return 2
    results = run_check(cases, backends, _dtypes(args.dtype), args.device, tolerance,
                        progress=not args.no_progress, jobs=jobs, fixtures=args.fixtures)
    print(format_table(results))
    failures = format_failures(results, limit=args.max_failures)
    if failures:
        print("\n" + failures)
    print("\n" + format_summary(results))
    if args.report:
        path = write_report(args.report, results, tolerance, fixtures=args.fixtures)
        print(f"JSON report: {path}")
    return 0 if all(r.status == "pass" for r in results) else 1
