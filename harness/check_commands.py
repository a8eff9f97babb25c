"""``diffmem check`` and ``diffmem calibrate``.

``check`` runs backends on the golden fixtures and on freshly drawn held-out cases
(``heldout.py``), compares (``compare.py``) against the tolerance model
(``tolerance.py``), and prints a progress bar (stderr), a table, the failure messages
and a summary (stdout).  Exit status: 0 only when every run passed (README.md,
"Verdicts"), 1 when any run failed, errored or was incomplete (or was unsupported under
``--strict``), 2 for a usage error.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from .compare import CaseResult, cover_runs, error_signature, run_case

DEFAULT_BACKENDS = ("jax", "torch")
DEFAULT_HELDOUT = 4
DEFAULT_TIMEOUT = 600.0     # seconds per backend call: generous, a hang is not a slow run
DEFAULT_MAX_ERRORS = 3      # identical errors before the run stops early


def add_tolerance_options(parser):
    group = parser.add_argument_group(
        "tolerance (docs/harness.md, 'Tolerance'); default: the calibrated bounds")
    group.add_argument("--k", type=float, default=None, metavar="K",
                       help="low precisions: multiple of the reference's own error in that "
                            "precision allowed")
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
        "check", help="check backends against the frozen reference (the main job)",
        description="Run backends on the golden fixtures and on freshly drawn held-out cases, "
                    "and compare their logits, loss, gradients and trace with the frozen "
                    "reference. Exit status 0 only if every run passed, 1 if any failed, "
                    "errored or could not be checked completely, 2 for a usage error.")
    p.add_argument("--backend", action="append", default=None, metavar="NAME|module:factory",
                   help="a registered backend (jax, torch, reference, ...) or an import path "
                        "package.module:make_backend; repeatable (default: jax and torch)")
    p.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N' (default: cpu)")
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
                   help=f"held-out random cases drawn for this run (default: "
                        f"{DEFAULT_HELDOUT}; 0: fixtures only)")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="seed of the held-out cases (default: a new one each run, printed)")
    p.add_argument("--report", default=None, metavar="FILE", help="write a JSON report")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="worker processes (default: cpu: one per core, at most 4; cuda: 1); "
                        "1 runs everything in this process")
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
    p.add_argument("--max-errors", type=int, default=DEFAULT_MAX_ERRORS, metavar="N",
                   help=f"stop early after N runs end in the same error (default: "
                        f"{DEFAULT_MAX_ERRORS})")
    p.add_argument("--keep-going", action="store_true",
                   help="never stop early on repeated errors")
    p.add_argument("--max-failures", type=int, default=20, metavar="N",
                   help="failing runs whose messages are printed in full (default: 20)")
    add_tolerance_options(p)
    p.set_defaults(func=cmd_check)


def parse_dtypes(values) -> tuple:
    """``--dtype`` values (repeatable, each one name or a comma-separated list; 'both' =
    float32 and float64) -> tuple in the order given, without repeats."""
    from diffmem.backends.protocol import PRECISIONS
    out = []
    for value in [values] if isinstance(values, str) else (values or ["both"]):
        for name in (n.strip() for n in str(value).split(",")):
            for d in ("float32", "float64") if name == "both" else (name,):
                if d not in PRECISIONS:
                    raise ValueError(f"--dtype: expected one of {', '.join(PRECISIONS)} or "
                                     f"'both', got {d!r}")
                if d not in out:
                    out.append(d)
    return tuple(out)


# ---------------------------------------------------------------- work items

@dataclass(frozen=True)
class CaseRef:
    """A case a worker can load by itself: a fixture by name, or a held-out draw."""
    name: str
    fixtures: str | None = None
    heldout: dict | None = None

    def load(self, precisions):
        if self.heldout is not None:
            from .heldout import make_case
            return make_case(self.heldout, precisions)
        from .fixture_io import case_path, load_case
        return load_case(case_path(self.name, self.fixtures))


_BACKENDS = {}   # (spec, device, dtype) -> backend, per process: compiled code is reused


def _baselines(dtypes):
    return tuple(sorted({"float32" if d == "float64" else d for d in dtypes} | {"float32"}))


def _not_run(name, spec, dtype, max_errors, first):
    return CaseResult(name, spec, dtype, 0.0, source=spec,
                      error=f"not run: the check stopped early after {max_errors} runs ended "
                            f"in the same error ({first}); --keep-going runs everything")


def _first_line(error):
    return error.split(" (at ", 1)[0].splitlines()[0]


def _backend(spec, device, dtype):
    """The backend object (made once per process), or the error text if it cannot be."""
    from diffmem.backends.protocol import load_backend

    from .compare import describe_exception
    key = (spec, device, dtype)
    if key not in _BACKENDS:
        try:
            _BACKENDS[key] = load_backend(spec, device, dtype)
        except Exception as exc:   # unknown name, import error, bad device: one row each
            _BACKENDS[key] = f"could not make backend {spec!r} ({device}, {dtype}): " \
                             f"{describe_exception(exc)}"
    return _BACKENDS[key]


def _run_task(pairs, device, refs, tolerance, timeout, precisions, max_errors=None):
    """Every (backend, dtype) of ``pairs`` on some same-shaped cases -> list of CaseResult
    (never raises).  Each case is loaded (or drawn, and its reference run) once; after
    ``max_errors`` identical errors of one pair, its remaining cases are not run."""
    out, seen, stop = [], {}, {}
    for i, ref in enumerate(refs):
        case = None
        # State kept between calls shows on any case: the repeated call runs on the first
        # case of each group and on every held-out case, not on every fixture.
        repeat = i == 0 or ref.heldout is not None
        for spec, dtype in pairs:
            if stop.get((spec, dtype)):
                out.append(_not_run(ref.name, spec, dtype, max_errors, stop[(spec, dtype)]))
                continue
            backend = _backend(spec, device, dtype)
            if isinstance(backend, str):
                result = CaseResult(ref.name, spec, dtype, 0.0, error=backend)
            else:
                if case is None:
                    try:
                        case = ref.load(precisions)
                    except ValueError as exc:
                        case = f"case: {exc}"
                if isinstance(case, str):
                    result = CaseResult(ref.name, spec, dtype, 0.0, error=case)
                else:
                    result = run_case(backend, case, dtype, tolerance, repeat=repeat,
                                      timeout=timeout or None)
                    if result.error and result.error.startswith("timed out"):
                        # The hung call still runs in its thread: this backend object is
                        # not used again in this process.
                        _BACKENDS[(spec, device, dtype)] = \
                            f"not run: this backend's earlier call on {ref.name} timed out"
            result.source, result.heldout = spec, ref.heldout is not None
            out.append(result)
            sig = error_signature(result)
            if sig is not None:   # one cause, whichever pair met it: counted together
                count, met = seen.get(sig, (0, set()))
                seen[sig] = (count + 1, met | {(spec, dtype)})
                if max_errors and count + 1 >= max_errors:
                    for pair in seen[sig][1]:
                        stop.setdefault(pair, _first_line(result.error))
    return out


def _worker_init(device, counter):
    # Spawned workers: the environment (threads, GPU memory, which GPU) must be in place
    # before JAX or torch is imported; the counter numbers the workers.
    from .devices import apply_worker_environment
    with counter.get_lock():
        worker = counter.value
        counter.value += 1
    apply_worker_environment(device, worker)


def _groups(refs, shapes):
    """Cases that share a config and array shapes: one JAX compile serves each group."""
    groups = {}
    for ref in refs:
        groups.setdefault(shapes[ref.name], []).append(ref)
    return list(groups.values())


def run_check(refs, backends, dtypes, device="cpu", tolerance=None, progress=True,
              jobs=1, shapes=None, timeout=DEFAULT_TIMEOUT, max_errors=None, strict=False):
    """Every (backend, dtype) on every case -> list of CaseResult, in (backend, dtype,
    case) order (never raises for a bad backend: a factory that fails gives one error row
    per case).  ``refs`` are ``CaseRef``s or loaded cases (then run in this process).

    With ``jobs > 1`` the work is spread over worker processes (spawned: JAX and torch
    must not be forked), one task per (backend, dtype, group of same-shaped cases), so
    each compiled program is reused within its task.  After ``max_errors`` runs end in
    the same error, the remaining work is not started (those runs are reported as not
    run).
    """
    refs = [r if isinstance(r, CaseRef) else _Loaded(r) for r in refs]
    shapes = shapes or {r.name: r.name for r in refs}
    precisions = _baselines(dtypes)
    pairs = [(spec, dtype) for spec in backends for dtype in dtypes]
    # Held-out groups first: they are the largest, and the reference runs for them too.
    tasks = sorted(_groups(refs, shapes), key=lambda g: g[0].heldout is None)
    bar = _progress(len(pairs) * len(refs), progress)
    done, counts, stopped = {}, {}, []

    def record(i, results):
        done[i] = results
        for r in results:
            sig = error_signature(r)
            if sig is not None and not r.error.startswith("not run"):
                counts[sig] = counts.get(sig, 0) + 1
                if max_errors and counts[sig] >= max_errors and not stopped:
                    stopped.append(_first_line(r.error))
        bar.update(len(results))

    jobs = min(jobs, len(tasks)) if tasks else 1
    if jobs <= 1:
        for i, group in enumerate(tasks):
            if stopped:
                break
            bar.set_postfix_str(group[0].name, refresh=False)
            record(i, _run_task(pairs, device, group, tolerance, timeout, precisions,
                                max_errors))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init,
                                 initargs=(device, context.Value("i", 0))) as pool:
            futures = {pool.submit(_run_task, pairs, device, group, tolerance, timeout,
                                   precisions, max_errors): i
                       for i, group in enumerate(tasks)}
            for future in as_completed(futures):
                i = futures[future]
                group = tasks[i]
                if future.cancelled():
                    continue
                try:
                    results = future.result()
                except Exception as exc:   # a worker died (e.g. a segfaulting kernel)
                    from .compare import describe_exception
                    results = [CaseResult(c.name, spec, dtype, 0.0, source=spec,
                                          error=f"the worker process running it failed: "
                                                f"{describe_exception(exc)}; run with --jobs 1 "
                                                f"to debug")
                               for c in group for spec, dtype in pairs]
                bar.set_postfix_str(group[0].name, refresh=False)
                record(i, results)
                if stopped:
                    for f in futures:
                        f.cancel()
    bar.close()
    for i, group in enumerate(tasks):
        if i not in done:
            done[i] = [_not_run(c.name, spec, dtype, max_errors, stopped[0] if stopped else "?")
                       for c in group for spec, dtype in pairs]
    order = {r.name: i for i, r in enumerate(refs)}
    rank = {pair: i for i, pair in enumerate(pairs)}
    rows = [r for i in done for r in done[i]]
    results = sorted(rows, key=lambda r: (rank.get((r.source, r.dtype), 0),
                                          order.get(r.case, -1)))
    cover_runs(results, strict=strict)
    return results


class _Loaded:
    """A case already in memory (tests, the pytest plugin), run in this process only."""

    def __init__(self, case):
        self.case, self.name, self.heldout = case, case.name, None

    def load(self, precisions):
        return self.case


def _progress(total, enabled):
    from tqdm import tqdm
    return tqdm(total=total, unit="run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, leave=False)


# ---------------------------------------------------------------- the cases of a check

def parse_families(values) -> tuple:
    """``--family`` values (repeatable, comma-separated) -> family names, in registry
    order; None: every registered family."""
    from diffmem.models import families
    known = list(families())
    if not values:
        return tuple(known)
    asked = {n.strip() for v in values for n in str(v).split(",") if n.strip()}
    unknown = sorted(asked - set(known))
    if unknown or not asked:
        raise ValueError(f"--family: expected some of {', '.join(known)}, got "
                         f"{', '.join(unknown) or repr(values)}")
    return tuple(n for n in known if n in asked)


def fixture_refs(fixtures, pattern, trust=False, chosen=None):
    """CaseRefs for the fixture cases matching ``pattern`` and their shape keys; checks the
    folder against the pin and every file's hash against the manifest first (each worker
    loads and checks its cases in full again).  ``chosen``: family names to keep (None:
    all)."""
    import json

    import numpy as np

    from diffmem import models

    from .fixture_io import FixtureError, _directory, case_names, case_path, read_manifest
    from .fixture_io import sha256_of
    from .pin import check_pinned
    directory = _directory(fixtures)
    digest = check_pinned(directory, trust=trust or False)
    names = case_names(fixtures, pattern)
    if not names:
        raise ValueError(f"--cases {pattern!r}: no fixture case matches (see `diffmem "
                         f"fixtures list`)")
    manifest = read_manifest(directory)["cases"]
    shapes = {}
    for n in names:   # before any work starts: a bad file is a usage error, not N errors
        path = case_path(n, fixtures)
        if not path.is_file() or n not in manifest \
                or sha256_of(path) != manifest[n].get("sha256"):
            from .fixture_io import load_case
            load_case(path)   # raises the FixtureError that says what is wrong
            raise FixtureError(f"fixture {path}: does not match its manifest")
        with np.load(path, allow_pickle=False) as npz:   # only the header and two arrays
            header = json.loads(str(npz["case.json"]))
            if chosen is not None and models.family_for(header["model"]).name not in chosen:
                continue
            shapes[n] = (json.dumps(header["config"], sort_keys=True),
                         npz["inputs"].shape, npz["targets"].shape)
    if not shapes:
        raise ValueError(f"--cases {pattern!r} --family {','.join(chosen or ())}: no fixture "
                         f"case of these families matches")
    return [CaseRef(n, fixtures) for n in shapes], shapes, digest


def heldout_refs(seed, count, chosen=None):
    from .heldout import descriptions
    refs, shapes = [], {}
    for d in descriptions(seed, count, chosen):
        refs.append(CaseRef(d["name"], heldout=d))
        shapes[d["name"]] = d["name"]
    return refs, shapes


def load_cases(fixtures, pattern):
    from .fixture_io import case_names, case_path, load_case
    names = case_names(fixtures, pattern)
    if not names:
        raise ValueError(f"--cases {pattern!r}: no fixture case matches (see `diffmem "
                         f"fixtures list`)")
    return [load_case(case_path(n, fixtures)) for n in names]


def cmd_check(args) -> int:
    from .heldout import new_seed
    from .report import format_failures, format_summary, format_table, verdict, write_report
    try:
        tolerance = tolerance_from_args(args)
        dtypes = parse_dtypes(args.dtype)
        backends = args.backend or list(DEFAULT_BACKENDS)
        from diffmem.backends.protocol import check_backend_spec
        for b in backends:
            check_backend_spec(b)   # a name that finds no backend is a usage error
        from .devices import default_jobs, validate_jobs, worker_environment
        jobs = validate_jobs(args.device, args.jobs if args.jobs is not None
                             else default_jobs(args.device))
        if args.heldout < 0:
            raise ValueError(f"--heldout: expected an integer >= 0, got {args.heldout}")
        if args.timeout < 0:
            raise ValueError(f"--timeout: expected seconds >= 0, got {args.timeout:g}")
        if args.max_errors < 1:
            raise ValueError(f"--max-errors: expected an integer >= 1, got {args.max_errors}")
        chosen = parse_families(args.family)
        refs, shapes, digest = fixture_refs(args.fixtures, args.cases, args.trust_fixtures,
                                            chosen)
    except ValueError as exc:   # FixtureError and UnpinnedFixtures are ValueErrors
        print(f"diffmem check: {exc}", file=sys.stderr)
        return 2
    if jobs == 1:   # in this process: the same environment a worker would get
        for key, value in worker_environment(args.device).items():
            os.environ.setdefault(key, value)
    seed = args.seed if args.seed is not None else new_seed()
    extra, extra_shapes = heldout_refs(seed, args.heldout, chosen)
    if args.heldout:
        print(f"held-out cases: {args.heldout} per family ({', '.join(chosen)}) drawn with "
              f"--seed {seed} (replay: diffmem check --seed {seed})", flush=True)
    started = time.perf_counter()
    results = run_check(refs + extra, backends, dtypes, args.device, tolerance,
                        progress=not args.no_progress, jobs=jobs,
                        shapes={**shapes, **extra_shapes}, timeout=args.timeout,
                        max_errors=None if args.keep_going else args.max_errors,
                        strict=args.strict)
    seconds = time.perf_counter() - started
    print(format_table(results))
    failures = format_failures(results, limit=args.max_failures)
    if failures:
        print("\n" + failures)
    rule = {"strict": args.strict, "allow_unsupported": args.allow_unsupported}
    print("\n" + format_summary(results, **rule))
    if args.report:
        path = write_report(args.report, results, tolerance, fixtures=args.fixtures,
                            manifest_sha256=digest, seed=seed, seconds=seconds, **rule)
        print(f"JSON report: {path}")
    return 0 if verdict(results, **rule) else 1
