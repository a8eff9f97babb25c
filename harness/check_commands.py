"""``diffmem check``: its options and what it prints (the check itself: ``check.py``).

``check`` runs backends on the golden fixtures and on freshly drawn held-out cases
(``heldout.py``), compares (``compare.py``) against the tolerance model
(``tolerance.py``), and prints a progress bar (stderr), a table, the failure messages
and a summary (stdout).  Exit status: 0 only when every run passed (README.md,
"Verdicts"), 1 when any run failed, errored or was incomplete (or was unsupported under
``--strict``), 2 for a usage error.
"""

from __future__ import annotations

import time

from diffmem.interrupts import EXIT_INTERRUPTED
from diffmem.usage import UsageError, check_output_path

from .check import DEFAULT_BACKENDS, DEFAULT_TIMEOUT, Interrupted
from .options import (add_tolerance_options, check_backend_specs, device_arg, parse_dtypes,
                      parse_families, positive_int, tolerance_from_args)

DEFAULT_HELDOUT = 4
DEFAULT_MAX_ERRORS = 3      # identical errors before the run stops early


def add_check_commands(subparsers):
    p = subparsers.add_parser(
        "check", help="check backends against the frozen reference (the main job)",
        description="Run backends on the golden fixtures and on freshly drawn held-out cases, "
                    "and compare their logits, loss, gradients and trace with the frozen "
                    "reference. Exit status 0 only if every run passed, 1 if any failed, "
                    "errored or could not be checked completely, 2 for a usage error.")
    p.add_argument("--backend", action="append", default=None, metavar="NAME|module:factory",
                   help="a registered backend (jax, torch, reference, ...) or an import path "
                        "package.module:make_backend; repeatable (default: jax and torch)")
    p.add_argument("--device", default="cpu", type=device_arg,
                   help="'cpu', 'cuda' or 'cuda:N' (default: cpu)")
    p.add_argument("--dtype", action="append", default=None, metavar="DTYPE",
                   help="backend precision: float64, float32, tf32, bfloat16, float16, or "
                        "'both' (float32 and float64); repeatable (default: both)")
    p.add_argument("--cases", default="*", metavar="GLOB",
                   help="fixture case names (shell glob, comma-separated for several; "
                        "default: all)")
    p.add_argument("--family", action="append", default=None, metavar="NAME",
                   help="model families to check (ntm, stack, stackrnn, ...); repeatable or "
                        "comma-separated (default: every registered family)")
    p.add_argument("--fixtures", default=None, metavar="DIR",
                   help="fixture folder (default: the installed, pinned diffmem fixtures)")
    p.add_argument("--trust-fixtures", action="store_true",
                   help="check against a --fixtures folder whose manifest is not the pinned "
                        "one (its baselines size the bounds: only for folders you made)")
    p.add_argument("--heldout", type=int, default=DEFAULT_HELDOUT, metavar="N",
                   help=f"held-out random cases drawn for this run per family (default: "
                        f"{DEFAULT_HELDOUT} per family; 0: fixtures only)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed of the held-out cases (default: a new one each run, printed)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run shard I of N (1 <= I <= N): whole groups of same-shaped cases, "
                        "split the same way on every machine (needs --seed when held-out "
                        "cases are drawn); `diffmem report merge` joins the shards' reports "
                        "into one verdict")
    p.add_argument("--report", default=None, metavar="FILE",
                   help="write a JSON report (its folder must exist; an interrupted check "
                        "writes what it finished, marked incomplete)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--jobs", "-j", type=positive_int, default=None, metavar="N",
                   help="worker processes (default: cpu: one per core, at most 4; cuda: "
                        "one per visible GPU; never more than the cores and memory hold); "
                        "every backend call runs in a worker, so a crashing kernel costs "
                        "one run")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"limit for one backend call; a call past it is reported as an error "
                        f"and every other result is kept (default: {DEFAULT_TIMEOUT:g}; 0: none)")
    p.add_argument("--strict", action="store_true",
                   help="count cases a backend declares unsupported as failures, and runs "
                        "with tensors the precision cannot resolve and no float64 run of "
                        "the same kernel checked as incomplete")
    p.add_argument("--allow-unsupported", action="store_true",
                   help="exit 0 even when no held-out case or less than half of the runs "
                        "was judged (the rest unsupported)")
    p.add_argument("--max-errors", type=positive_int, default=DEFAULT_MAX_ERRORS, metavar="N",
                   help=f"stop early after N runs end in the same error (default: "
                        f"{DEFAULT_MAX_ERRORS})")
    p.add_argument("--keep-going", action="store_true",
                   help="never stop early on repeated errors")
    p.add_argument("--max-failures", type=int, default=20, metavar="N",
                   help="failing runs whose messages are printed in full (default: 20)")
    add_tolerance_options(p)
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    from .check import check_pairs, open_pool
    from .devices import default_jobs, usable_jobs, validate_jobs
    try:
        tolerance = tolerance_from_args(args)
        dtypes = parse_dtypes(args.dtype)
        chosen = parse_families(args.family)
        jobs = validate_jobs(args.device, args.jobs if args.jobs is not None
                             else default_jobs(args.device))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.heldout < 0:
        raise UsageError(f"--heldout: expected an integer >= 0, got {args.heldout}")
    if args.timeout < 0:
        raise UsageError(f"--timeout: expected seconds >= 0, got {args.timeout:g}")
    if args.report:
        check_output_path(args.report, "--report")
    part = None
    if args.shard is not None:
        from .schedule import parse_shard
        try:
            part = parse_shard(args.shard)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if args.heldout and args.seed is None:
            raise UsageError(f"--shard {args.shard}: give --seed S too, so that every shard "
                             f"draws the same held-out cases")
    backends = args.backend or list(DEFAULT_BACKENDS)
    jobs = usable_jobs(jobs, args.device, "--jobs", explicit=args.jobs is not None)
    # The first worker starts now and makes the backends (imports torch, JAX, a
    # kernel's package) while this process validates them and reads the fixtures.
    with open_pool(jobs, check_pairs(backends, dtypes), args.device, args.timeout) as pool:
        return _check(args, pool, backends, dtypes, chosen, tolerance, part)


def first_check_note(backends, device, environ=None) -> str | None:
    """A line for a check with the bundled JAX backend on a CPU when no traced program is
    kept yet (a fresh install, or the folder emptied): why this check takes minutes."""
    from .devices import cache_folders
    if "jax" not in backends or device != "cpu":
        return None
    traced = next(c for c in cache_folders(environ) if c["variable"] == "DIFFMEM_JAX_PROGRAMS")
    if traced["files"]:
        return None
    from diffmem.backends.driver import jax_xla_setting
    # Measured on 2 cores (docs/results.md, "Scale"), for the build in force.
    each, first, later = (("0.5-3 s", "2-2.5 minutes", "about 1 minute")
                          if jax_xla_setting(environ) == "quick" else
                          ("2-8 s", "about 7 minutes", "2-3 minutes"))
    return (f"JAX: no program kept from an earlier check ({traced['folder']} is empty): "
            f"this check traces and compiles each one, {each} per group of cases and dtype "
            f"on a CPU (the default check: {first} on 2 cores, a later one {later})")


def _check(args, pool, backends, dtypes, chosen, tolerance, part) -> int:
    from .check import fixture_refs, heldout_refs, run_check
    from .heldout import new_seed
    from .report import (format_failures, format_summary, format_table, format_timing, verdict,
                         write_report)
    check_backend_specs(backends)   # a name that finds no backend is a usage error
    try:
        refs, shapes, digest = fixture_refs(args.fixtures, args.cases, args.trust_fixtures,
                                            chosen)
    except ValueError as exc:   # FixtureError and UnpinnedFixtures are ValueErrors
        raise UsageError(str(exc)) from None
    seed = args.seed if args.seed is not None else new_seed()
    extra, extra_shapes = heldout_refs(seed, args.heldout, chosen)
    if args.heldout:
        print(f"held-out cases: {args.heldout} per family ({', '.join(chosen)}: "
              f"{len(extra)} in all) drawn with --seed {seed} (replay: diffmem check "
              f"--seed {seed})", flush=True)
    shapes = {**shapes, **extra_shapes}
    cases = refs + extra
    note = first_check_note(backends, args.device)
    if note:
        print(note, flush=True)
    shard_info = None
    if part is not None:
        from .schedule import shard
        mine = shard(cases, shapes, *part)
        shard_info = {"index": part[0], "count": part[1], "cases": len(mine),
                      "cases_in_all_shards": len(cases)}
        print(f"shard {part[0]}/{part[1]}: {len(mine)} of the {len(cases)} cases", flush=True)
        cases = mine
        if not cases:
            print("nothing to run in this shard (more shards than groups of cases)")
    started = time.perf_counter()
    interrupted = False
    try:
        results = run_check(cases, backends, dtypes, args.device, tolerance,
                            progress=not args.no_progress, shapes=shapes,
                            timeout=args.timeout,
                            max_errors=None if args.keep_going else args.max_errors,
                            strict=args.strict, pool=pool)
    except Interrupted as stopped:
        results, interrupted = stopped.results, True
    seconds = time.perf_counter() - started
    print(format_table(results))
    failures = format_failures(results, limit=args.max_failures)
    if failures:
        print("\n" + failures)
    rule = {"strict": args.strict, "allow_unsupported": args.allow_unsupported}
    print("\n" + format_timing(results, seconds))
    print(format_summary(results, **rule))
    if interrupted:
        ran = sum(not (r.error or "").startswith("not run") for r in results)
        print(f"INTERRUPTED: the check is incomplete ({ran} of {len(results)} runs finished; "
              f"the rest are marked not run)")
    if args.report:
        path = write_report(args.report, results, tolerance, fixtures=args.fixtures,
                            manifest_sha256=digest, seed=seed, seconds=seconds,
                            complete=not interrupted, shard=shard_info, **rule)
        print(f"JSON report: {path}")
    if interrupted:
        return EXIT_INTERRUPTED
    if part is not None and not cases:
        return 0
    return 0 if verdict(results, **rule) else 1
