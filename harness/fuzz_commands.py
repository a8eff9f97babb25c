"""``diffmem fuzz``: its options and what it prints (the campaign itself: ``fuzz.py``).

Exit status: 0 when no drawn case failed, 1 when one did (the minimal case written and
its replay command printed), 2 for a usage error.
"""

from __future__ import annotations

import pathlib

from diffmem.usage import UsageError

from .check import DEFAULT_TIMEOUT
from .options import add_tolerance_options, check_backend_specs, device_arg, \
    positive_int, tolerance_from_args

DEFAULT_CASES = 20


def add_fuzz_command(subparsers):
    p = subparsers.add_parser(
        "fuzz", help="hunt the bugs that show only at scale; shrink the first failure",
        description="Draw random cases of a family at the sizes a GPU kernel meets (batch to "
                    "512, T to 1024, memory to 512 rows, heads to 8; cap them with --max), "
                    "run each through the backend against the reference, and shrink the "
                    "first failing case to a minimal one that fails the same way, written "
                    "as a fixture with the command that replays it. Exit status 0 when "
                    "every case passed, 1 when one failed, 2 for a usage error.")
    p.add_argument("--backend", required=True, metavar="NAME|module:factory",
                   help="the backend to fuzz (a registered name or package.module:factory)")
    p.add_argument("--family", required=True, metavar="NAME",
                   help="the model family whose cases are drawn")
    p.add_argument("--device", default="cpu", type=device_arg,
                   help="'cpu', 'cuda' or 'cuda:N' (default: cpu)")
    p.add_argument("--dtype", default="float32", metavar="DTYPE",
                   help="backend precision (default: float32)")
    p.add_argument("--cases", type=positive_int, default=None, metavar="N",
                   help=f"cases to draw (default: {DEFAULT_CASES}, or unlimited with "
                        f"--budget)")
    p.add_argument("--budget", type=float, default=None, metavar="SECONDS",
                   help="draw cases until this much time has passed (with --cases: "
                        "whichever ends first)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed of the campaign (default: a new one, printed)")
    p.add_argument("--max", action="append", default=None, metavar="AXIS=N",
                   help="cap an axis (batch, steps, rows, read_heads, ...: the family's "
                        "fuzz axes), e.g. --max steps=200; repeatable")
    p.add_argument("--no-shrink", action="store_true", help="report the first failure as found")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="folder for the minimal failing case and its manifest (must exist; "
                        "default: the current folder)")
    p.add_argument("--jobs", "-j", type=positive_int, default=None, metavar="N",
                   help="worker processes (default: as diffmem check)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run the cases on a Ray cluster ('local' starts one here; needs "
                        "pip install 'diffmem[ray]'), one worker per GPU")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"limit for one backend call (default {DEFAULT_TIMEOUT:g}; 0: none)")
    add_tolerance_options(p)
    p.set_defaults(func=cmd_fuzz)


def cmd_fuzz(args) -> int:
    from diffmem.models import family_named

    from .check import baselines
    from .devices import default_jobs, usable_jobs, validate_jobs
    from .fuzz import LocalRunner, axes, parse_limits, replay_command, run_campaign, write_case
    from .heldout import new_seed
    from .options import parse_dtypes
    try:
        family = family_named(args.family)
        dtypes = parse_dtypes(args.dtype)
        tolerance = tolerance_from_args(args)
        limits = parse_limits(args.max, family)
        jobs = validate_jobs(args.device, args.jobs if args.jobs is not None
                             else default_jobs(args.device))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not family.fuzz_axes:
        raise UsageError(f"--family {family.name}: this family has no fuzz cases "
                         f"(Family.fuzz_axes is empty)")
    if len(dtypes) != 1:
        raise UsageError(f"--dtype: expected one precision, got {args.dtype!r}")
    if args.budget is not None and args.budget <= 0:
        raise UsageError(f"--budget: expected seconds > 0, got {args.budget:g}")
    if args.timeout < 0:
        raise UsageError(f"--timeout: expected seconds >= 0, got {args.timeout:g}")
    out = pathlib.Path(args.out)
    if not out.is_dir():
        raise UsageError(f"--out {args.out}: expected an existing folder")
    check_backend_specs([args.backend])
    count = args.cases if args.cases is not None else (None if args.budget else DEFAULT_CASES)
    seed = args.seed if args.seed is not None else new_seed()
    ranges = axes(family, limits)
    pairs = [(args.backend, dtypes[0])]
    print(f"fuzz {family.name} with {args.backend} ({args.device}, {dtypes[0]}), --seed "
          f"{seed}: " + ", ".join(f"{a} {lo}..{hi}" for a, (lo, hi) in ranges.items()),
          flush=True)
    if args.ray:
        from .ray_runner import RayRunner
        try:
            runner = RayRunner(args.ray, args.device, args.timeout)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    else:
        runner = LocalRunner(usable_jobs(jobs, args.device, "--jobs",
                                         explicit=args.jobs is not None),
                             args.device, args.timeout or None)
    try:
        campaign = run_campaign(family, runner, pairs, tolerance, baselines(dtypes),
                                seed=seed, ranges=ranges, count=count, budget=args.budget,
                                shrink=not args.no_shrink,
                                log=lambda line: print(line, flush=True))
    finally:
        runner.close()
    print(f"{campaign.cases} case(s) in {campaign.seconds:.1f} s: "
          f"{campaign.per_second:.3g} cases/s with {campaign.workers} worker(s) "
          f"({campaign.per_second / campaign.workers:.3g} per worker)")
    finding = campaign.finding
    if finding is None:
        print("no failure found")
        return 0
    case = finding.minimal or finding.found
    row = finding.minimal_row or finding.row
    if finding.minimal is not None:
        print(f"shrunk from {finding.found['name']} to {case['name']} in "
              f"{finding.shrink_cases} case(s), {finding.shrink_seconds:.1f} s")
    print(f"minimal failing case: {case['name']}\n  {(row['first_divergence'] or row['error'] or '').splitlines()[0]}")
    path = write_case(case, out)
    print(f"written: {path}")
    print(f"replay: {replay_command(args.backend, dtypes[0], args.device, out, case['name'])}")
    return 1
