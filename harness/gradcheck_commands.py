"""``diffmem gradcheck``: every family's reference against finite differences (its
self-check), over the cases each family declares (``Family.gradcheck_cases``); the engine
is ``diffmem.reference.gradcheck``.  A family that declares none is listed as not
checked, never as passed."""

from __future__ import annotations

import time

from diffmem.reference.gradcheck import BOUND, check_case
from diffmem.usage import UsageError

from .options import parse_families


def _short(name):
    return name.replace("controller.", "ctrl.").replace("interface.", "iface.") \
        .replace("output.", "out.").replace("_logits", "_lg")


def _runner(family):
    def run(cfg, params, inputs, targets, mask, want_grads):
        return family.bind(cfg).run_reference(params, inputs, targets, mask, dtype="float64",
                                              want_trace=False, want_grads=want_grads)
    return run


def run_gradcheck(family, cases, bound=BOUND, out=print):
    """Check ``cases`` of ``family``, print a table (worst relative error per tensor);
    returns (passed, (case, worst TensorCheck) overall)."""
    worst_overall, passed, header = None, True, None
    run = _runner(family)
    for case in cases:
        start = time.perf_counter()
        checks = check_case(case, run)
        seconds = time.perf_counter() - start
        if header is None:
            header = f"{'config':22s} {'regime':14s}" + "".join(
                f"{_short(c.name):>13s}" for c in checks) + f"{'worst':>10s}  result"
            out(header)
        worst = max(checks, key=lambda c: c.worst)
        ok = all(c.worst <= bound for c in checks)
        passed &= ok
        if worst_overall is None or worst.worst > worst_overall[1].worst:
            worst_overall = (case, worst)
        row = f"{case.name:22s} {case.regime:14s}" + "".join(f"{c.worst:13.1e}" for c in checks)
        out(row + f"{worst.worst:10.1e}  {'pass' if ok else 'FAIL'} ({seconds:.1f} s)")
        if not ok:
            for c in checks:
                if c.worst > bound:
                    out(f"    {c.describe()} > bound {bound:.0e}")
    case, worst = worst_overall
    out(f"worst: {case.name}: {worst.describe()}  (bound {bound:.0e}, step h = {case.step:g}, "
        f"4-point central differences in float64)")
    return passed, worst_overall


def _command(args):
    from diffmem.models import family_named
    try:
        names = parse_families(args.family)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.bound is not None and not args.bound > 0:
        raise UsageError(f"--bound {args.bound:g}: expected a relative error > 0")
    chosen = {}
    for name in names:
        cases = family_named(name).gradcheck_cases()
        if args.only:
            cases = tuple(c for c in cases if any(s in c.name for s in args.only))
        chosen[name] = cases
    if not any(chosen.values()):
        every = ", ".join(c.name for n in names for c in family_named(n).gradcheck_cases())
        raise UsageError(f"--only {' '.join(args.only or ())}: no configuration's name "
                         f"contains it; they are {every or 'none'}")
    passed, unchecked = True, []
    for name, cases in chosen.items():
        if not cases:
            if not args.only:
                unchecked.append(name)
            continue
        print(f"== {name} ({len(cases)} configuration(s))")
        ok, _ = run_gradcheck(family_named(name), cases, args.bound or BOUND)
        passed &= ok
        print()
    if unchecked:
        print(f"not checked: {', '.join(unchecked)} (the family declares no gradcheck cases)")
    print("gradcheck " + ("passed" if passed else "FAILED")
          + (f" for {', '.join(n for n, c in chosen.items() if c)}" if unchecked else ""))
    return 0 if passed else 1


def add_commands(subparsers):
    from diffmem.models import families
    counts = ", ".join(f"{name} {len(f.gradcheck_cases())}"
                       for name, f in families().items() if f.gradcheck_cases())
    p = subparsers.add_parser(
        "gradcheck",
        help="check the reference's gradients against finite differences (self-check)",
        description="Compare each family's reference gradients (autograd) with 4-point "
                    "central finite differences in float64, for every parameter tensor and "
                    "the inputs, over the configurations the family declares, away from its "
                    f"kinks and ties ({counts}; the NTM's: feedforward and LSTM "
                    "controllers, 1 and 2 heads of each kind, shifts (-2..2), N = 1 and 2, "
                    "and the sharp regime).  Prints the worst relative error per tensor; "
                    "exits 1 if any exceeds the bound.")
    p.add_argument("--family", action="append", metavar="NAME",
                   help="only these families (repeatable or comma-separated; default all)")
    p.add_argument("--bound", type=float, default=None,
                   help=f"worst relative error allowed (default {BOUND:g})")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only the cases whose name contains one of these strings")
    p.set_defaults(func=_command)
