"""``diffmem calibrate``: its options and what it prints (the calibration itself:
``calibrate.py``)."""

from __future__ import annotations

import time

from diffmem.backends.protocol import PRECISIONS
from diffmem.interrupts import EXIT_INTERRUPTED
from diffmem.usage import UsageError, check_output_path

from .calibrate import (Interrupted, calibrate, calibrate_heldout, format_calibration,
                        write_calibration)
from .check import DEFAULT_BACKENDS
from .options import (add_tolerance_options, check_backend_specs, parse_dtypes,
                      parse_families, positive_int, tolerance_from_args)


def add_calibrate_command(subparsers):
    from . import calibrate as module
    p = subparsers.add_parser(
        "calibrate", help="measure the tolerance constants on random cases",
        description=module.__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--cases", type=positive_int, default=300,
                   help="random cases (default 300)")
    p.add_argument("--configs", type=positive_int, default=20,
                   help="random configurations the cases are spread over (default 20; "
                        "at most --cases)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--jobs", "-j", type=positive_int, default=1,
                   help="worker processes (default 1; at most the cores and memory hold)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the configuration groups on a Ray cluster instead ('local' "
                        "starts one here; needs pip install 'diffmem[ray]')")
    p.add_argument("--backend", action="append", default=None, metavar="NAME|module:factory",
                   help="backends to calibrate (default: jax and torch)")
    p.add_argument("--dtype", default="both", metavar="LIST",
                   help="'both' (float32 and float64, the default) or a comma-separated "
                        "list of float64, float32, tf32, bfloat16, float16")
    p.add_argument("--family", action="append", default=None, metavar="NAME",
                   help="model families to calibrate, repeatable or comma-separated "
                        "(default: all; configuration group g is family g mod their number)")
    p.add_argument("--small", action="store_true", help=small_help())
    p.add_argument("--heldout", action="store_true",
                   help="calibrate on the held-out cases a check draws, weighted to long, "
                        "sharp and many-head ones (harness/calibrate_heldout.py); --cases "
                        "of them per family")
    p.add_argument("--indices", default=None, metavar="LIST",
                   help="with --heldout: exactly these held-out indices (comma-separated; "
                        "e.g. to re-run the cases an earlier calibration flagged)")
    p.add_argument("--rotate", type=int, default=None, metavar="N",
                   help="with --heldout: the first N backends run on every case, the rest "
                        "one per case in turn (default: all on every case)")
    p.add_argument("--top", type=int, default=10, help="worst tensors listed (default 10)")
    p.add_argument("--report", default=None, metavar="FILE",
                   help="write every run's worst ratio as JSON (its folder must exist)")
    add_tolerance_options(p)
    p.set_defaults(func=cmd_calibrate)


def small_help() -> str:
    """What --small does, family by family, from each family's calibration module."""
    from diffmem.models import families
    clipped, as_drawn = [], []
    for name, fam in families().items():
        limits = getattr(fam.calibration, "SMALL_LIMITS", None)
        if limits:
            clipped.append(f"{name}: " + ", ".join(f"{k} <= {v}" for k, v in limits.items()))
        else:
            as_drawn.append(name)
    return ("smaller random configurations (" + "; ".join(clipped) + ")"
            + (f"; {', '.join(as_drawn)} calibrate on their held-out draws, which --small "
               f"does not change" if as_drawn else ""))


def cmd_calibrate(args) -> int:
    from .devices import usable_jobs
    try:
        tolerance = tolerance_from_args(args)
        dtypes = tuple(d for d in PRECISIONS if d in parse_dtypes(args.dtype))
        chosen = parse_families(args.family)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.configs > args.cases and not args.heldout:
        raise UsageError(f"--configs {args.configs}: expected at most --cases "
                         f"({args.cases}): each configuration takes at least one case")
    if args.report:
        check_output_path(args.report, "--report")
    backends = args.backend or list(DEFAULT_BACKENDS)
    check_backend_specs(backends)
    jobs = usable_jobs(args.jobs, "cpu", "--jobs")
    runner = None
    if args.ray:
        from .ray_runner import RayRunner
        runner = RayRunner(args.ray, "cpu")
    start = time.perf_counter()
    complete = True
    try:
        if args.heldout:
            try:
                indices = None if args.indices is None else \
                    [int(i) for i in str(args.indices).split(",") if i.strip()]
            except ValueError:
                raise UsageError(f"--indices {args.indices}: expected comma-separated "
                                 f"integers") from None
            rows = calibrate_heldout(args.cases, args.seed, backends, dtypes, tolerance,
                                     jobs, report=args.report, chosen=chosen,
                                     rotate=args.rotate, indices=indices, runner=runner)
        else:
            rows = calibrate(args.cases, args.configs, args.seed, backends, dtypes, tolerance,
                             jobs, report=args.report, small=args.small, chosen=chosen,
                             runner=runner)
    except Interrupted as stopped:
        rows, complete = stopped.rows, False
    finally:
        if runner is not None:
            runner.close()
    print(format_calibration(rows, args.top, tolerance))
    how = (f"--heldout{'' if args.rotate is None else f' --rotate {args.rotate}'}"
           f"{'' if args.indices is None else f' --indices {args.indices}'}"
           if args.heldout else f"--configs {args.configs}")
    print(f"({time.perf_counter() - start:.0f} s; `diffmem calibrate --cases {args.cases} "
          f"{how} --seed {args.seed}{''.join(' --backend ' + b for b in args.backend or ())}"
          f" --dtype {','.join(dtypes)}{' --small' if args.small else ''}"
          f"{' --family ' + ','.join(chosen) if args.family else ''}` reproduces this)")
    if not complete:
        print(f"INTERRUPTED: {len({r['case'] for r in rows})} of {args.cases} cases finished; "
              f"the figures above are theirs only")
    if args.report:
        write_calibration(args.report, rows, complete=complete)
    if not complete:
        return EXIT_INTERRUPTED
    # "incomplete": tensors a low precision can hold to its noise bound only, which a
    # check covers with the float64 run; a calibration counts only failures and errors.
    return 0 if all(r["status"] in ("pass", "incomplete") for r in rows) else 1
