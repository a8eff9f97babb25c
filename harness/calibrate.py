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
reported per mode.  ``--small`` draws smaller configurations (a family's
``calibration.SMALL_LIMITS``; ``diffmem calibrate --help`` lists them): the same semantic
space, a fraction of the time.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from diffmem.backends.protocol import PRECISIONS

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

def run_group(seed, group, indices, backends, dtypes, tolerance, small=False, chosen=None,
              skip=0):
    """Worker: the cases of one configuration group after the first ``skip``; yields each
    case's plain dict rows (one per backend and dtype) as it finishes."""
    from diffmem.backends.protocol import load_backend

    from .compare import cover_runs, run_case
    from .pool import busy
    draw = random_group(seed, group, small, chosen)
    made = {(b, d): load_backend(b, "cpu", d) for b in backends for d in dtypes}
    modes = tuple(d for d in dtypes if d not in ("float32", "float64"))
    for index in indices[skip:]:
        case = random_case(seed, group, index, draw, modes)
        busy(case.name)
        runs = {(b, d): run_case(backend, case, d, tolerance, paths=False)
                for (b, d), backend in made.items()}
        for (b, _), r in runs.items():   # as in a check: float64 vouches for the rest
            r.source = b
        cover_runs(list(runs.values()))
        yield [result_row(case, b, d, r, draw["config"] or case.config.to_dict())
               for (b, d), r in runs.items()]


def result_row(case, backend, dtype, r, config) -> dict:
    """One run as a plain row of the calibration's JSON."""
    worst = max((t for t in r.tensors if t.ratio is not None),
                key=lambda t: t.ratio, default=None)
    # Tensors a float32-only run (or one without a float64 run of the same kernel)
    # would hold to the plausible-range bound: the worst ratio against it.
    alone = [t.plausible["ratio"] for t in r.tensors if t.plausible is not None]
    return {"case": case.name, "backend": backend, "dtype": dtype, "status": str(r.status),
            "ratio": r.worst_ratio, "error": r.error, "unsupported": r.unsupported,
            "tensor": worst.tensor if worst else None,
            "where": worst.where if worst else None,
            "divergence": r.first_divergence, "config": config,
            "alone": max(alone) if alone else None,
            # (tensor, ratio, bound, err32, scale) at each tensor's worst
            # element: enough to re-derive the constants offline.
            "tensors": [(t.tensor, t.ratio, t.bound, t.err32, t.scale, str(t.status))
                        for t in r.tensors if t.ratio is not None]}


def _lost_rows(group, index, backends, dtypes, why):
    # A case whose worker died: one error row per backend and dtype, named by its seat.
    return [{"case": f"cal-group{group}-case{index}", "backend": b, "dtype": d,
             "status": "error", "ratio": None, "error": why, "tensor": None, "where": None,
             "divergence": None, "config": None, "alone": None, "tensors": []}
            for b in backends for d in dtypes]


def write_calibration(path, rows, complete=True):
    from diffmem.usage import write_file_atomically
    text = json.dumps({"complete": complete, "distribution": distribution(rows),
                       "runs": rows}, indent=1, default=str)
    write_file_atomically(path, lambda tmp: open(tmp, "w", encoding="utf-8").write(text),
                          "--report")


class Interrupted(Exception):
    """The calibration was interrupted; ``rows`` holds the cases it finished."""

    def __init__(self, rows):
        super().__init__("interrupted")
        self.rows = rows


def calibrate(cases, configs, seed, backends, dtypes, tolerance, jobs=1, progress=True,
              report=None, small=False, chosen=None, runner=None):
    """All runs as plain rows (raises ``Interrupted`` with the rows so far on Ctrl-C or
    SIGTERM); with ``report`` the JSON file is rewritten after every configuration
    group, so a long calibration leaves its partial results behind.  ``runner``: a
    ``ray_runner.RayRunner`` to run the groups on instead of the local pool."""
    from tqdm import tqdm

    from diffmem.interrupts import sigterm_interrupts, stop_at_next_signal

    from .pool import Died, Part, Pool, Raised
    if not 1 <= configs <= cases:
        raise ValueError(f"configs: expected 1 to {cases} (the cases), got {configs}")
    groups = {g: [i for i in range(cases) if i % configs == g] for g in range(configs)}
    if runner is not None:
        return _on(runner, run_group, [(seed, g, groups[g], backends, dtypes, tolerance, small,
                                        chosen, 0) for g in groups])
    done = {g: 0 for g in groups}
    rows = []
    bar = tqdm(total=cases, unit="case", file=sys.stderr, disable=not progress, leave=False)

    def submit(pool, g):
        pool.submit(g, lambda: (run_group, (seed, g, groups[g], backends, dtypes, tolerance,
                                            small, chosen, done[g])))

    try:
        with sigterm_interrupts(), Pool(min(jobs, len(groups))) as pool:
            for g in groups:
                submit(pool, g)
            for event in pool.events():
                g = event.key
                if isinstance(event, Part):
                    rows += event.value
                    done[g] += 1
                    bar.update(1)
                elif isinstance(event, Died):   # that case is lost; the group goes on
                    rows += _lost_rows(g, groups[g][done[g]], backends, dtypes, event.reason)
                    done[g] += 1
                    bar.update(1)
                    if done[g] < len(groups[g]):
                        submit(pool, g)
                elif isinstance(event, Raised):   # the rest of the group is lost with it
                    for index in groups[g][done[g]:]:
                        rows += _lost_rows(g, index, backends, dtypes, event.error)
                    bar.update(len(groups[g]) - done[g])
                    done[g] = len(groups[g])
                elif report:
                    write_calibration(report, rows, complete=False)
    except KeyboardInterrupt:
        stop_at_next_signal()
        bar.close()
        raise Interrupted(sorted(rows, key=lambda r: (r["case"], r["backend"], r["dtype"])))
    bar.close()
    return sorted(rows, key=lambda r: (r["case"], r["backend"], r["dtype"]))


def _heldout_rows(seed, name, index, backends, dtypes, tolerance, rotate):
    """Worker: one weighted held-out case; yields its plain dict rows."""
    from .calibrate_heldout import run_heldout_case
    from .pool import busy
    busy(f"held-out {name} {index}")
    case, runs = run_heldout_case(seed, name, index, backends, dtypes, tolerance, rotate)
    yield [result_row(case, b, d, r, case.config.to_dict()) for (b, d), r in runs.items()]


def _on(runner, task, arglist):
    """Rows of ``task`` run on a cluster (``runner.map``), in the order of a local run."""
    rows = [row for parts in runner.map(task, arglist) for part in parts for row in part]
    return sorted(rows, key=lambda r: (r["case"], r["backend"], r["dtype"]))


def calibrate_heldout(cases, seed, backends, dtypes, tolerance, jobs=1, progress=True,
                      report=None, chosen=None, rotate=None, indices=None, runner=None):
    """Like ``calibrate``, on ``cases`` weighted held-out draws per family (of ``chosen``)
    (``calibrate_heldout.py``); the JSON is rewritten at most once a minute (raises
    ``Interrupted`` with the rows so far on Ctrl-C or SIGTERM)."""
    from tqdm import tqdm

    from diffmem.interrupts import sigterm_interrupts, stop_at_next_signal
    from diffmem.models import families

    from .calibrate_heldout import draws
    from .pool import Died, Part, Pool, Raised
    rotate = len(backends) if rotate is None else rotate
    work = [(name, i) for name, fam in families().items() if chosen is None or name in chosen
            for i in (draws(seed, cases, fam) if indices is None else indices)]
    if runner is not None:
        return _on(runner, _heldout_rows, [(seed, *key, backends, dtypes, tolerance, rotate)
                                           for key in work])
    rows = []
    bar = tqdm(total=len(work), unit="case", file=sys.stderr, disable=not progress,
               leave=False)
    last = [time.perf_counter()]

    def save(final=False):
        # The JSON grows with every case: rewriting it after each one would cost more
        # than the cases on a long calibration; once a minute leaves enough behind.
        if report and (final or time.perf_counter() - last[0] > 60):
            write_calibration(report, rows, complete=final)
            last[0] = time.perf_counter()
    try:
        with sigterm_interrupts(), Pool(min(jobs, len(work)) or 1) as pool:
            for key in work:
                pool.submit(key, lambda key=key: (_heldout_rows, (seed, *key, backends, dtypes,
                                                                  tolerance, rotate)))
            for event in pool.events():
                if isinstance(event, Part):
                    rows += event.value
                elif isinstance(event, (Died, Raised)):
                    why = event.reason if isinstance(event, Died) else event.error
                    rows += _lost_rows(event.key[0], event.key[1], backends, dtypes, why)
                else:
                    continue
                bar.update(1)
                save()
    except KeyboardInterrupt:
        stop_at_next_signal()
        bar.close()
        raise Interrupted(sorted(rows, key=lambda r: (r["case"], r["backend"], r["dtype"])))
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
                         f"{r['error'] or r.get('unsupported') or r['divergence']}")
    return "\n".join(lines)