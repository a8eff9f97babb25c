"""``diffmem calibrate``: the measurement behind the tolerance constants (HARNESS.md 4).

Runs the correct bundled backends on freshly seeded random cases across the
configuration space and reports how close each came to its bound: the error-to-bound
ratio (<= 1 passes) per run, its distribution (max, 99th percentile, median) per
backend and dtype, and the worst tensors.  A correct backend must never fail; the
constants in ``tolerance.py`` are set so that the largest ratio seen stays well below 1.

Random cases draw a configuration (controller, 1-3 read and write heads, a shift set,
N 1..32, M 2..8, H 2..16, T 1..60, B 1..2) and then, per case, fresh parameters (seed, regime
init / sharp / extreme_logits, sometimes zero memory rows) and data (random or one
of the five tasks).  Cases share their configuration in groups (``--configs``): JAX
compiles once per (configuration, B, T), which is most of a calibration's time.
Everything is a pure function of ``--seed``.

Low-precision modes (``--dtype tf32,bfloat16,float16``): each case also carries the
reference run with the mode emulated (``diffmem.reference.precision``), and the bundled
backends run in the mode (torch: TF32 operand rounding on CPU, bf16 / fp16 matmuls;
JAX: TF32 operand rounding, bf16 / fp16 dot inputs); the smallest passing ``k`` is
reported per mode.  ``--small`` draws smaller configurations (N <= 8, M <= 6, H <= 8,
T <= 12): the same semantic space, a fraction of the time.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from diffmem.backends.protocol import PRECISIONS

from .calibrate_heldout import draws, run_heldout_case

def add_calibrate_command(subparsers, add_tolerance_options):
    p = subparsers.add_parser(
        "calibrate", help="measure the tolerance constants on random cases",
        description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("--cases", type=int, default=300, help="random cases (default 300)")
    p.add_argument("--configs", type=int, default=20,
                   help="random configurations the cases are spread over (default 20)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--backend", action="append", default=None, metavar="NAME|module:factory",
                   help="backends to calibrate (default: jax and torch)")
    p.add_argument("--dtype", default="both", metavar="LIST",
                   help="'both' (float32 and float64, the default) or a comma-separated "
                        "list of float64, float32, tf32, bfloat16, float16")
    p.add_argument("--family", action="append", default=None, metavar="NAME",
                   help="model families to calibrate, repeatable or comma-separated "
                        "(default: all; configuration group g is family g mod their number)")
    p.add_argument("--small", action="store_true",
                   help="smaller configurations (N <= 8, M <= 6, H <= 8, T <= 12)")
    p.add_argument("--top", type=int, default=10, help="worst tensors listed (default 10)")
    p.add_argument("--report", default=None, metavar="FILE",
                   help="write every run's worst ratio as JSON")
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
    add_tolerance_options(p)
    p.set_defaults(func=cmd_calibrate)


# ---------------------------------------------------------------- random cases

def _family(group, chosen=None):
    from diffmem.models import families
    fams = [f for f in families().values() if chosen is None or f.name in chosen]
    return fams[group % len(fams)]


def random_group(seed, group, small=False, chosen=None) -> dict:
    """The draw shared by a configuration group: group g calibrates family g mod the
    number of families (of ``chosen``, names; None: all), with the family's own random
    configurations (``Family.calibration``) or, for a family without them, its held-out
    cases."""
    fam = _family(group, chosen)
    if fam.calibration is None:
        return {"family": fam.name, "config": None}
    return dict(fam.calibration.random_config(np.random.default_rng([seed, group]), small),
                family=fam.name)


def random_case(seed, group, index, draw, modes=()):
    """One freshly seeded case with the reference's float64 and float32 results (and
    those of the low-precision ``modes``)."""
    from diffmem.models import family_named

    from .testing import reference_case
    fam = family_named(draw["family"])
    if fam.calibration is None:
        case = fam.heldout(seed * 100_003 + group, index)
        name, (cfg, params, inputs, targets, mask, _) = f"cal-{case.name}", case.build()
    else:
        name, cfg, params, inputs, targets, mask = fam.calibration.random_case(
            seed, group, index, draw)
    return reference_case(name, cfg, params, inputs, targets, mask,
                          precisions=("float64", "float32") + tuple(modes))


# ---------------------------------------------------------------- running

def run_group(seed, group, indices, backends, dtypes, tolerance, small=False, chosen=None):
    """Worker: every case of one configuration group -> list of plain dict rows."""
    from diffmem.backends.protocol import load_backend

    from .compare import cover_runs, run_case
    draw = random_group(seed, group, small, chosen)
    made = {(b, d): load_backend(b, "cpu", d) for b in backends for d in dtypes}
    modes = tuple(d for d in dtypes if d not in ("float32", "float64"))
    rows = []
    for index in indices:
        case = random_case(seed, group, index, draw, modes)
        runs = {(b, d): run_case(backend, case, d, tolerance, paths=False)
                for (b, d), backend in made.items()}
        for (b, _), r in runs.items():   # as in a check: float64 vouches for the rest
            r.source = b
        cover_runs(list(runs.values()))
        rows += [result_row(case, b, d, r, draw["config"] or case.config.to_dict())
                 for (b, d), r in runs.items()]
    return rows


def result_row(case, backend, dtype, r, config) -> dict:
    """One run as a plain row of the calibration's JSON."""
    worst = max((t for t in r.tensors if t.ratio is not None),
                key=lambda t: t.ratio, default=None)
    # Tensors a float32-only run (or one without a float64 run of the same kernel)
    # would hold to the plausible-range bound: the worst ratio against it.
    alone = [t.plausible["ratio"] for t in r.tensors if t.plausible is not None]
    return {"case": case.name, "backend": backend, "dtype": dtype, "status": str(r.status),
            "ratio": r.worst_ratio, "error": r.error,
            "tensor": worst.tensor if worst else None,
            "where": worst.where if worst else None,
            "divergence": r.first_divergence, "config": config,
            "alone": max(alone) if alone else None,
            # (tensor, ratio, bound, err32, scale) at each tensor's worst
            # element: enough to re-derive the constants offline.
            "tensors": [(t.tensor, t.ratio, t.bound, t.err32, t.scale, str(t.status))
                        for t in r.tensors if t.ratio is not None]}


def write_calibration(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"distribution": distribution(rows), "runs": rows}, fh, indent=1,
                  default=str)


def calibrate(cases, configs, seed, backends, dtypes, tolerance, jobs=1, progress=True,
              report=None, small=False, chosen=None):
    """All runs as plain rows; with ``report`` the JSON file is rewritten after every
    configuration group, so a long calibration leaves its partial results behind."""
    from tqdm import tqdm
    configs = max(1, min(configs, cases))
    groups = {g: [i for i in range(cases) if i % configs == g] for g in range(configs)}
    rows = []
    bar = tqdm(total=cases, unit="case", file=sys.stderr, disable=not progress, leave=False)
    if jobs <= 1:
        for g, idx in groups.items():
            rows += run_group(seed, g, idx, backends, dtypes, tolerance, small, chosen)
            bar.update(len(idx))
            if report:
                write_calibration(report, rows)
    else:
        import multiprocessing
        # spawn: JAX must not be forked after it started its threads.
        from .devices import apply_worker_environment
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=apply_worker_environment) as ex:
            futures = {ex.submit(run_group, seed, g, idx, backends, dtypes, tolerance, small,
                                 chosen): idx
                       for g, idx in groups.items()}
            for f in as_completed(futures):
                rows += f.result()
                bar.update(len(futures[f]))
                if report:
                    write_calibration(report, rows)
    bar.close()
    return sorted(rows, key=lambda r: (r["case"], r["backend"], r["dtype"]))


def _heldout_rows(seed, name, index, backends, dtypes, tolerance, rotate):
    """Worker: one weighted held-out case -> plain dict rows."""
    case, runs = run_heldout_case(seed, name, index, backends, dtypes, tolerance, rotate)
    return [result_row(case, b, d, r, case.config.to_dict()) for (b, d), r in runs.items()]


def calibrate_heldout(cases, seed, backends, dtypes, tolerance, jobs=1, progress=True,
                      report=None, chosen=None, rotate=None, indices=None):
    """Like ``calibrate``, on ``cases`` weighted held-out draws per family (of ``chosen``)
    (``calibrate_heldout.py``); the JSON is rewritten after every case."""
    from tqdm import tqdm

    from diffmem.models import families

    rotate = len(backends) if rotate is None else rotate
    work = [(name, i) for name, fam in families().items() if chosen is None or name in chosen
            for i in (draws(seed, cases, fam) if indices is None else indices)]
    rows = []
    bar = tqdm(total=len(work), unit="case", file=sys.stderr, disable=not progress,
               leave=False)
    last = [time.perf_counter()]

    def save(final=False):
        # The JSON grows with every case: rewriting it after each one would cost more
        # than the cases on a long calibration; once a minute leaves enough behind.
        if report and (final or time.perf_counter() - last[0] > 60):
            write_calibration(report, rows)
            last[0] = time.perf_counter()
    if jobs <= 1:
        for name, i in work:
            rows += _heldout_rows(seed, name, i, backends, dtypes, tolerance, rotate)
            bar.update(1)
            save()
    else:
        import multiprocessing

        from .devices import apply_worker_environment
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=apply_worker_environment) as ex:
            futures = [ex.submit(_heldout_rows, seed, name, i, backends, dtypes,
                                 tolerance, rotate) for name, i in work]
            for f in as_completed(futures):
                rows += f.result()
                bar.update(1)
                save()
    bar.close()
    save(final=True)
    return sorted(rows, key=lambda r: (r["case"], r["backend"], r["dtype"]))


def distribution(rows) -> list:
    """Per (backend, dtype): runs, failures, errors, max / p99 / median ratio."""
    out = []
    for key in sorted({(r["backend"], r["dtype"]) for r in rows}):
        sel = [r for r in rows if (r["backend"], r["dtype"]) == key]
        ratios = np.array([r["ratio"] for r in sel if r["ratio"] is not None], dtype=float)
        out.append({"backend": key[0], "dtype": key[1], "runs": len(sel),
                    "failures": sum(r["status"] == "fail" for r in sel),
                    "errors": sum(r["status"] == "error" for r in sel),
                    # noise-only tensors left for a float64 run to check (compare.py)
                    "incomplete": sum(r["status"] == "incomplete" for r in sel),
                    # runs a float32-only check (no float64 run of the same kernel)
                    # would fail: a noise-only tensor beyond the plausible-range bound
                    "alone_fail": sum((r.get("alone") or 0.0) > 1 for r in sel),
                    "max": float(ratios.max()) if ratios.size else None,
                    "p99": float(np.percentile(ratios, 99)) if ratios.size else None,
                    "median": float(np.median(ratios)) if ratios.size else None})
    return out


def needed_constants(rows, tolerance=None) -> list:
    """The smallest k (float32 and each low-precision mode) and c64 (float64) under which
    every run passes, with the floors the runs had: max over tensors of (|error| -
    floor) / err32, where floor = bound - k * err32 at the worst element (err32: the
    baseline's error, the mode's emulated run for a mode)."""
    from .tolerance import Tolerance
    tolerance = tolerance or Tolerance()
    lines = []
    for dtype in [d for d in PRECISIONS if any(r["dtype"] == d for r in rows)]:
        label = "c64" if dtype == "float64" else "k"
        k = tolerance.constants(dtype)[0]
        need, where = 0.0, None
        for r in rows:
            if r["dtype"] != dtype:
                continue
            for tensor, ratio, bound, err32, scale, *mark in r.get("tensors", ()):
                if mark and mark[0] == "noise only":
                    continue   # bounded by K_NOISE and checked by float64, not by k
                err, floor = ratio * bound, bound - k * (err32 or 0.0)
                if err32 and err > floor and (err - floor) / err32 > need:
                    need, where = (err - floor) / err32, (r["case"], r["backend"], tensor)
        lines.append(f"{dtype}: smallest {label} that passes every run: {need:.3g}"
                     + (f" ({where[1]}, {where[0]}, {where[2]})" if where
                        else " (the floors alone cover every run)"))
    return lines


def format_calibration(rows, top=10, tolerance=None) -> str:
    from .tolerance import Tolerance
    present = [d for d in PRECISIONS if any(r["dtype"] == d for r in rows)]
    constants = "; ".join(
        f"{d} {'c64' if d == 'float64' else 'k'}={c[0]:g} rtol={c[1]:g} atol={c[2]:g}"
        for d in present for c in [Tolerance().constants(d)])
    lines = [f"{len({r['case'] for r in rows})} random case(s); default constants: "
             f"{constants}",
             "error-to-bound ratio per run (the worst tensor of the run; <= 1 passes):",
             f"{'backend':10s} {'dtype':8s} {'runs':>5s} {'fail':>5s} {'error':>5s} "
             f"{'noise':>5s} {'alone':>5s} {'max':>9s} {'p99':>9s} {'median':>9s}"]
    for d in distribution(rows):
        def f(v):
            return f"{v:9.3g}" if v is not None else f"{'-':>9s}"
        lines.append(f"{d['backend']:10s} {d['dtype']:8s} {d['runs']:5d} {d['failures']:5d} "
                     f"{d['errors']:5d} {d['incomplete']:5d} {d['alone_fail']:5d} "
                     f"{f(d['max'])} {f(d['p99'])} "
                     f"{f(d['median'])}")
    lines.append("(noise: runs with tensors a low precision holds to its noise bound only, "
                 "left for the float64 run of a check; alone: runs that a check without a "
                 "float64 run of the same kernel would fail, on such a tensor beyond the "
                 "noise bound capped at twice its scale)")
    lines += needed_constants(rows, tolerance)
    lines.append(f"worst {top} run(s):")
    ranked = sorted(rows, key=lambda r: -(r["ratio"] if r["ratio"] is not None else np.inf)
                    if r["status"] != "error" else -np.inf)
    for r in ranked[:top]:
        lines.append(f"  {r['ratio'] if r['ratio'] is not None else float('nan'):9.3g}  "
                     f"{r['backend']:6s} {r['dtype']:8s} {r['case']}  {r['tensor']} "
                     f"{r['where']}")
    for r in rows:
        if r["status"] != "pass":
            lines.append(f"  {r['status'].upper()}: {r['backend']} {r['dtype']} {r['case']}: "
                         f"{r['error'] or r['divergence']}")
    return "\n".join(lines)


def cmd_calibrate(args) -> int:
    from .check_commands import parse_dtypes, parse_families, tolerance_from_args
    try:
        tolerance = tolerance_from_args(args)
        dtypes = tuple(d for d in PRECISIONS if d in parse_dtypes(args.dtype))
        chosen = parse_families(args.family)
    except ValueError as exc:
        print(f"diffmem calibrate: {exc}", file=sys.stderr)
        return 2
    if args.cases < 1:
        print("diffmem calibrate: --cases: expected at least 1", file=sys.stderr)
        return 2
    backends = args.backend or ["jax", "torch"]
    start = time.perf_counter()
    if args.heldout:
        indices = None if args.indices is None else \
            [int(i) for i in str(args.indices).split(",") if i.strip()]
        rows = calibrate_heldout(args.cases, args.seed, backends, dtypes, tolerance,
                                 args.jobs, report=args.report, chosen=chosen,
                                 rotate=args.rotate, indices=indices)
    else:
        rows = calibrate(args.cases, args.configs, args.seed, backends, dtypes, tolerance,
                         args.jobs, report=args.report, small=args.small, chosen=chosen)
    print(format_calibration(rows, args.top, tolerance))
    how = (f"--heldout{'' if args.rotate is None else f' --rotate {args.rotate}'}"
           f"{'' if args.indices is None else f' --indices {args.indices}'}"
           if args.heldout else f"--configs {args.configs}")
    print(f"({time.perf_counter() - start:.0f} s; `diffmem calibrate --cases {args.cases} "
          f"{how} --seed {args.seed}{''.join(' --backend ' + b for b in args.backend or ())}"
          f" --dtype {','.join(dtypes)}{' --small' if args.small else ''}"
          f"{' --family ' + ','.join(chosen) if args.family else ''}` reproduces this)")
    if args.report:
        write_calibration(args.report, rows)
    # "incomplete": tensors a low precision can hold to its noise bound only, which a
    # check covers with the float64 run; a calibration counts only failures and errors.
    return 0 if all(r["status"] in ("pass", "incomplete") for r in rows) else 1
