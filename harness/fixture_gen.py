"""Generating golden fixtures from the catalogue, and verifying them against the reference.

``generate`` runs the frozen reference on every catalogued case, in float64 (the truth),
float32 (the tolerance baseline of HARNESS.md section 4) and the low-precision modes
emulated (tf32, bfloat16, float16: the baselines of those modes, harness/baselines.py),
with full trace and gradients, and writes one byte-stable file per case plus the
manifest.

``verify`` is the freeze guard: it re-runs the reference on each stored case and compares
with what is stored.  On the machine and library versions that wrote the files the runs
are bit-identical; the default bounds (relative to each tensor's largest magnitude) only
leave room for another BLAS's summation order:
float64 1e-12, float32 1e-4 (float32 rounding differences are amplified by long or
sharp cases; the float32 run is a baseline, not the truth), the emulated modes 1e-2
(their rounding of a matrix product's operands is exact; only a float32 difference
before it can move a value across a rounding boundary, by one ulp of the format).  ``exact=True`` demands
bit equality.
"""

from __future__ import annotations

import os
import pathlib
import time

import numpy as np

from . import catalogue as cat
from .fixture_io import (LOW_PRECISION, family_dtypes, FixtureError, case_entries, flatten_result,
                         matches,
                         read_manifest, sha256_of, tool_versions, write_manifest, write_npz)
from .baselines import reference_run
from diffmem.models import bind

VERIFY_RTOL = {"float64": 1e-12, "float32": 1e-4, "tf32": 1e-2, "bfloat16": 1e-2,
               "float16": 1e-2}


def reference_runs(model, params, inputs, targets, mask) -> dict:
    """{"float64": R, "float32": R, "tf32": R, ...}: the reference of a bound ``Model``
    with trace and gradients in every dtype a fixture stores (fixture_io.DTYPES)."""
    runs = {}
    for dtype in family_dtypes(model):   # float64 first: a mode's baseline is measured from it
        runs[dtype] = reference_run(model, params, inputs, targets, mask, dtype,
                                    runs.get("float64"))
    return runs


def _check_finite(name, flat):
    # A non-finite baseline would make every later comparison meaningless.  A
    # low-precision mode's emulated run may overflow its format (float16 ends at 65504):
    # kept as it is, the harness then reports that tensor not checked in the mode.
    for key, arr in flat.items():
        if key.split("/", 1)[0] in LOW_PRECISION:
            continue
        if not np.isfinite(arr).all():
            raise ValueError(f"case {name}: the reference's {key} is not finite; "
                             f"change the case in its family's cases.py")


def generate_case(name, out_dir, path=None) -> dict:
    """Build and run one case and write it to ``path`` (default: its place in
    ``out_dir``; a temporary file renamed over it, so a crash never leaves half a
    fixture behind); returns its manifest entry."""
    spec = cat.catalogue()[name]
    config, params, inputs, targets, mask, meta = cat.build(spec)
    model = bind(config)
    runs = reference_runs(model, params, inputs, targets, mask)
    cat.check_promises(spec, runs)
    entries = case_entries(name, model, meta, params, inputs, targets, mask, runs)
    _check_finite(name, {k: v for k, v in entries.items() if k != "case.json"})
    final = pathlib.Path(out_dir) / f"{name}.npz"
    path = pathlib.Path(path) if path is not None else final
    tmp = path.with_name(f"{TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        write_npz(tmp, entries)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"file": final.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "model": model.name, "spec_version": model.spec_version,
            "tools": tool_versions()}


TMP_PREFIX = ".tmp-"   # files being written; any left by a killed worker are removed


def generate_task(name, out_dir):
    """Worker: one case written beside its place (``.new-NAME.npz``), for the parent to
    rename over it and enter in the manifest together; yields (name, entry, seconds)."""
    start = time.perf_counter()
    staged = pathlib.Path(out_dir) / f"{TMP_PREFIX}new-{name}.npz"
    entry = generate_case(name, out_dir, staged)
    yield name, entry, time.perf_counter() - start


def _cost(case):
    # Longest first keeps the pool busy to the end.
    return case.cost


def _remove_leftovers(out_dir):
    for path in pathlib.Path(out_dir).glob(f"{TMP_PREFIX}*"):
        path.unlink(missing_ok=True)


def generate(out_dir, pattern="*", jobs=1, log=print) -> dict:
    """Write the cases matching ``pattern`` and update the manifest; returns name -> entry.

    With ``pattern="*"`` the folder becomes exactly the catalogue: files and manifest
    entries of cases no longer catalogued are removed.  ``jobs`` > 1: in worker
    processes (``pool.py``).  On a failure or an interrupt the manifest lists exactly
    the files there: each case's file and its manifest entry change together.
    """
    from diffmem.interrupts import sigterm_interrupts, stop_at_next_signal

    from .pool import Died, Part, Pool, Raised
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(exist_ok=True)
    specs = cat.catalogue()
    names = sorted((n for n in specs if matches(n, pattern)), key=lambda n: -_cost(specs[n]))
    if not names:
        raise ValueError(f"--cases {pattern!r}: matches no catalogued case "
                         f"(`diffmem fixtures list --catalogue` shows them)")
    for skipped, why in cat.skipped():
        log(f"skip  {skipped}: {why}")
    try:
        manifest = read_manifest(out_dir)["cases"]
    except FixtureError:
        manifest = {}            # missing or broken: rebuilt from what is generated now
    done, renaming = {}, {}

    def record(name, entry, seconds):
        # The manifest is written from ``done``; an interrupt between the rename and the
        # entry is settled by the file's hash (below).
        renaming[name] = entry
        os.replace(out_dir / f"{TMP_PREFIX}new-{name}.npz", out_dir / f"{name}.npz")
        done[name] = entry
        log(f"wrote {name}.npz  {entry['bytes'] / 1024:7.1f} KiB  {seconds:6.1f} s")

    try:
        with sigterm_interrupts():
            if jobs <= 1:
                for name in names:
                    for value in generate_task(name, out_dir):
                        record(*value)
            else:
                with Pool(min(jobs, len(names))) as pool:
                    for name in names:
                        pool.submit(name, lambda name=name: (generate_task, (name, str(out_dir))))
                    for event in pool.events():
                        if isinstance(event, Part):
                            record(*event.value)
                        elif isinstance(event, (Raised, Died)):
                            raise ValueError(f"case {event.key}: "
                                             f"{getattr(event, 'error', None) or event.reason}")
    except KeyboardInterrupt:
        stop_at_next_signal()
        log(f"interrupted: {len(done)} of {len(names)} case(s) written; the manifest lists "
            f"them and the files not rewritten keep their old entries")
        raise
    finally:
        for name, entry in renaming.items():   # renamed, interrupted before recorded
            path = out_dir / f"{name}.npz"
            if name not in done and path.exists() and sha256_of(path) == entry["sha256"]:
                done[name] = entry
        _remove_leftovers(out_dir)
        manifest.update(done)
        complete = len(done) == len(names)
        if pattern == "*" and complete:
            for stale in sorted(set(manifest) - set(specs)):
                del manifest[stale]
            for path in sorted(out_dir.glob("*.npz")):
                if path.stem not in specs:
                    log(f"removed {path.name}: not in the catalogue")
                    path.unlink()
        write_manifest(out_dir, manifest)
    return done


# ------------------------------------------------------------------ verify

def compare_runs(expected: dict, got: dict, dtype, rtol=None) -> list:
    """Mismatches of one dtype's stored run against a re-run: a message per tensor.

    Bound per tensor: |got - expected| <= rtol * max|expected| (rtol=0: bit equality).
    NaN never matches, except a mode's Inf or NaN (its format overflowed) met by the same
    in the re-run.
    """
    rtol = VERIFY_RTOL[dtype] if rtol is None else rtol
    want, have = flatten_result(dtype, expected), flatten_result(dtype, got)
    problems = []
    for key in sorted(set(want) | set(have)):
        if key not in want or key not in have:
            problems.append(f"{key}: present in only one of stored / re-run")
            continue
        a, b = want[key], have[key]
        if a.shape != b.shape:
            problems.append(f"{key}: shape {b.shape} re-run, {a.shape} stored")
            continue
        with np.errstate(invalid="ignore"):   # Inf - Inf: a mode's overflow, met below
            diff = np.abs(b.astype(np.float64) - a.astype(np.float64))
        diff[np.isnan(diff)] = np.inf
        if dtype in LOW_PRECISION:
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            diff[~np.isfinite(a) & same] = 0.0
        finite = np.isfinite(a)
        scale = float(np.max(np.abs(a[finite]))) if finite.any() else 0.0
        bound = rtol * scale
        if diff.size and (diff > bound).any():
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
            where = tuple(int(i) for i in idx)
            problems.append(f"{key}: max |re-run - stored| = {diff[where]:.3e} at index {where} "
                            f"(stored {a[where]!r}, re-run {b[where]!r}); bound {bound:.3e} "
                            f"= {rtol:g} x max|stored| {scale:.3e}")
    return problems


def verify_case(path, exact=False) -> list:
    """Problems found when re-running the reference on one stored case ([] = frozen)."""
    from .fixture_io import load_case
    case = load_case(path)
    runs = reference_runs(case.model, case.params, case.inputs, case.targets, case.mask)
    return [p for dtype in family_dtypes(case.model)
            for p in compare_runs(case.expected[dtype], runs[dtype], dtype,
                                  0.0 if exact else None)]


def verify_task(path, exact):
    """Worker: yields (path, problems, seconds) for one stored case."""
    start = time.perf_counter()
    try:
        problems = verify_case(path, exact)
    except FixtureError as exc:
        problems = [str(exc)]
    yield str(path), problems, time.perf_counter() - start


def verify(paths, jobs=1, exact=False, log=print) -> int:
    """Verify fixture files; returns the number of failing cases."""
    failures = 0

    def report(path, problems, seconds):
        nonlocal failures
        name = pathlib.Path(path).stem
        if problems:
            failures += 1
            log(f"FAIL  {name}  ({seconds:.1f} s)")
            for p in problems:
                log(f"      {p}")
        else:
            log(f"ok    {name}  ({seconds:.1f} s)")

    from .pool import Died, Part, Pool, Raised
    if jobs <= 1:
        for path in paths:
            for value in verify_task(path, exact):
                report(*value)
        return failures
    with Pool(min(jobs, len(paths))) as pool:
        for path in paths:
            pool.submit(str(path), lambda path=path: (verify_task, (str(path), exact)))
        for event in pool.events():
            if isinstance(event, Part):
                report(*event.value)
            elif isinstance(event, (Raised, Died)):
                report(event.key, [getattr(event, "error", None) or event.reason], 0.0)
    return failures
