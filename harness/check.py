"""The check: every (backend, dtype) on every case, in worker processes (``pool.py``),
scheduled by ``schedule.py``; ``check_commands.py`` is its command line.

Every backend call runs in a worker, so a kernel that crashes, exits or hangs costs one
run: it becomes an error row naming the signal, exit status or timeout, and the task
goes on in a fresh worker from the run after it.  An interrupt (Ctrl-C, SIGTERM) ends
the workers at once and raises ``Interrupted`` carrying every finished run, the rest
marked not run.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass

from .compare import CaseResult, cover_runs, describe_exception, run_case
from diffmem.interrupts import sigterm_interrupts, stop_at_next_signal

from .pool import Died, Done, Part, Pool, Raised
from .prepare import Preparer
from .schedule import INTERRUPTED, CaseRef, EarlyStop, groups, not_run, runs

DEFAULT_BACKENDS = ("jax", "torch")
DEFAULT_TIMEOUT = 600.0     # seconds per backend call: generous, a hang is not a slow run


class Interrupted(Exception):
    """The check was interrupted; ``results`` holds every run, those never run marked so."""

    def __init__(self, results):
        super().__init__("interrupted")
        self.results = results


@dataclass(frozen=True)
class Unavailable:
    """A backend that could not be made in this worker, and why."""
    reason: str


_BACKENDS = {}   # (spec, device, dtype) -> backend or Unavailable, per worker process


def backend_for(spec, device, dtype):
    from diffmem.backends.protocol import load_backend
    key = (spec, device, dtype)
    if key not in _BACKENDS:
        try:
            _BACKENDS[key] = load_backend(spec, device, dtype)
        except Exception as exc:   # unknown name, import error, bad device: one row each
            _BACKENDS[key] = Unavailable(f"could not make backend {spec!r} ({device}, "
                                         f"{dtype}): {describe_exception(exc)}")
    return _BACKENDS[key]


def make_backends(pairs, device):
    """Make (or learn why not) every (spec, dtype) backend of ``pairs`` in this worker: a
    pool's ``preload``, so the imports overlap the parent's own start."""
    for spec, dtype in pairs:
        backend_for(spec, device, dtype)


def open_pool(jobs, pairs, device="cpu", timeout=DEFAULT_TIMEOUT):
    """The check's worker pool, its first worker started now and making the backends
    while the caller validates arguments and reads fixtures (``Pool.start``)."""
    return Pool(jobs, device, timeout or None,
                preload=(make_backends, (list(pairs), device))).start(1)


def retire_backend(spec, device, dtype, why):
    """Make this process's later ``backend_for`` calls answer ``Unavailable(why)`` (a
    backend whose call timed out may still be running in its thread)."""
    _BACKENDS[(spec, device, dtype)] = Unavailable(why)


def baselines(dtypes) -> tuple:
    """The reference runs a case needs for ``dtypes``: float32 always (the bound's
    baseline), and each low-precision mode's emulated run."""
    return tuple(sorted({"float32" if d == "float64" else d for d in dtypes} | {"float32"}))


def check_task(pairs, device, group, tolerance, timeout, precisions, stop, skip=0):
    """Worker: the runs of one group (``schedule.runs``) after the first ``skip``, one
    CaseResult each as it finishes.  Each case is loaded (or drawn, and its reference
    run) once; a pair ``stop`` stops is not run."""
    cases = {}
    first = None   # the first case this task runs: the repeated call runs on it
    for index, (ref, pair) in enumerate(runs(group, pairs)):
        if index < skip:
            continue
        spec, dtype = pair
        why = stop.why(pair)
        backend = None if why else backend_for(spec, device, dtype)
        if why:
            result = not_run(ref.name, pair, why)
        elif isinstance(backend, Unavailable):
            result = CaseResult(ref.name, spec, dtype, 0.0, error=backend.reason)
        else:
            loading, first_use = 0.0, ref.name not in cases
            if first_use:
                started = time.perf_counter()
                try:
                    cases = {ref.name: ref.load(precisions)}
                except ValueError as exc:
                    cases = {ref.name: Unavailable(f"case: {exc}")}
                loading = time.perf_counter() - started
            case = cases[ref.name]
            if isinstance(case, Unavailable):
                result = CaseResult(ref.name, spec, dtype, 0.0, error=case.reason)
            else:
                # State kept between calls shows on any case: the repeated call runs on
                # the first case a task runs and on every held-out case.
                first = first or ref.name
                result = run_case(backend, case, dtype, tolerance,
                                  repeat=first == ref.name or ref.heldout is not None,
                                  timeout=timeout or None)
                if ref.prepared is not None and first_use:   # made by the parent
                    loading = ref.prepared.seconds
                if loading:   # a held-out case's time is its reference runs
                    result.timing["case" if ref.heldout is None else "reference"] = loading
        result.source, result.heldout = spec, ref.heldout is not None
        stop.record(result)
        yield result


def _died_row(ref, pair, died: Died) -> CaseResult:
    spec, dtype = pair
    if died.timed_out is not None:
        error = (f"timed out: the backend did not return within {died.timed_out:g} s "
                 f"(--timeout); its worker process was ended and the check went on in a "
                 f"fresh one")
    else:
        error = (f"crashed: {died.reason} while running this case; the check went on in a "
                 f"fresh worker process (run this case alone under a debugger to see why)")
    result = CaseResult(ref.name, spec, dtype, 0.0, source=spec, error=error)
    result.heldout = ref.heldout is not None
    return result


def check_pairs(backends, dtypes) -> list:
    """The (backend spec, dtype) pairs of a check, in report order."""
    return [(spec, dtype) for spec in backends for dtype in dtypes]


def run_check(refs, backends, dtypes, device="cpu", tolerance=None, progress=True,
              jobs=1, shapes=None, timeout=DEFAULT_TIMEOUT, max_errors=None, strict=False,
              pool=None):
    """Every (backend, dtype) on every case -> list of CaseResult, in (backend, dtype,
    case) order (never raises for a bad backend: a factory that fails gives one error row
    per case; raises ``Interrupted`` on Ctrl-C or SIGTERM).  ``refs``: ``CaseRef``s.

    ``jobs`` worker processes (``pool.Pool``), or ``pool``, one already open (from
    ``open_pool``, with its own number of workers) that the caller closes; one task per
    group of same-shaped cases, so each compiled program is reused within its task.  The
    cases are loaded and drawn in this process meanwhile (``prepare.Preparer``).
    """
    shapes = shapes or {r.name: r.name for r in refs}
    precisions = baselines(dtypes)
    pairs = check_pairs(backends, dtypes)
    tasks = groups(refs, shapes)
    stop = EarlyStop(max_errors)
    done = {i: [] for i in range(len(tasks))}
    bar = _progress(len(pairs) * len(refs), progress)
    preparer = Preparer(tasks, precisions, dtypes)

    def submit(pool, i, skip=0):
        # Made when a worker is free: the task starts with what the check has seen, and
        # with the cases the parent has made ready by then.
        pool.submit(i, lambda: None if stop.all_stopped(pairs) else
                    (check_task, (pairs, device, [preparer.take(r) for r in tasks[i]],
                                  tolerance, timeout, precisions, stop, skip)))

    def add(i, result):
        done[i].append(result)
        stop.record(result)
        bar.update(1)

    interrupted = False
    if pool is None:
        pool = Pool(min(jobs, len(tasks)) or 1, device, timeout)
    else:   # opened by the caller, who closes it
        pool.jobs = min(pool.jobs, len(tasks)) or 1
        pool = contextlib.nullcontext(pool)
    try:
        with sigterm_interrupts(), pool as pool:
            preparer.start()
            for i in range(len(tasks)):
                submit(pool, i)
            for event in pool.events():
                i = event.key
                work = runs(tasks[i], pairs)
                if isinstance(event, Part):
                    bar.set_postfix_str(event.value.case, refresh=False)
                    add(i, event.value)
                elif isinstance(event, Died):
                    add(i, _died_row(*work[len(done[i])], event))
                    if len(done[i]) < len(work):
                        submit(pool, i, skip=len(done[i]))
                elif isinstance(event, Raised):   # the harness's own failure: say so
                    for ref, (spec, dtype) in work[len(done[i]):]:
                        add(i, CaseResult(ref.name, spec, dtype, 0.0, source=spec,
                                          heldout=ref.heldout is not None,
                                          error=f"the harness failed: {event.error}"))
                else:
                    assert isinstance(event, Done)
    except KeyboardInterrupt:
        interrupted = True
        stop_at_next_signal()
    finally:
        preparer.stop()
    bar.close()
    results = []
    for i, group in enumerate(tasks):
        work = runs(group, pairs)
        results += done[i]
        for ref, pair in work[len(done[i]):]:
            row = not_run(ref.name, pair, INTERRUPTED if interrupted
                          else stop.why(pair) or "its task never started")
            row.heldout = ref.heldout is not None
            results.append(row)
    order = {r.name: i for i, r in enumerate(refs)}
    rank = {pair: i for i, pair in enumerate(pairs)}
    results.sort(key=lambda r: (rank.get((r.source, r.dtype), 0), order.get(r.case, -1)))
    cover_runs(results, strict=strict)
    if interrupted:
        raise Interrupted(results)
    return results


def _progress(total, enabled):
    from tqdm import tqdm
    return tqdm(total=total, unit="run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, leave=False)


# ---------------------------------------------------------------- the cases of a check

def fixture_refs(fixtures, pattern, trust=False, chosen=None):
    """CaseRefs for the fixture cases matching ``pattern`` and their shape keys; checks the
    folder against the pin and every file's hash against the manifest first (each worker
    loads and checks its cases in full again).  ``chosen``: family names to keep (None:
    all)."""
    import json

    import numpy as np

    from diffmem import models

    from .fixture_io import FixtureError, fixture_directory, case_names, case_path, read_manifest
    from .fixture_io import sha256_of
    from .pin import check_pinned
    directory = fixture_directory(fixtures)
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
    """The fixture cases matching ``pattern``, loaded (for in-process tools: the bug hunt)."""
    from .fixture_io import case_names, case_path, load_case
    names = case_names(fixtures, pattern)
    if not names:
        raise ValueError(f"--cases {pattern!r}: no fixture case matches (see `diffmem "
                         f"fixtures list`)")
    return [load_case(case_path(n, fixtures)) for n in names]
