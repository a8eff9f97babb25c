"""``diffmem fixtures generate|verify|list``: the golden fixtures from the command line.

Exit status: 0 done; 1 a fixture failed verification or could not be read; 2 the user's
options (a missing folder, a --cases glob that matches nothing).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

from diffmem.usage import UsageError, check_output_path

from .fixture_io import (FixtureError, case_names, case_path, default_fixture_dir, load_case,
                         matches)


def _jobs(value):
    from .devices import cpu_count, usable_jobs
    if value < 0:
        raise UsageError(f"--jobs {value}: expected an integer >= 0 (0: one per CPU)")
    return usable_jobs(cpu_count() if value == 0 else value, "cpu", "--jobs",
                       explicit=value != 0)


def _writable_folder(folder):
    """The output folder exists (made if missing, but not its parents) and takes files:
    checked before work."""
    check_output_path(folder, "--fixtures", folder=True)
    try:
        if not os.path.isdir(folder):
            os.mkdir(folder)
        probe = os.path.join(folder, f".diffmem-probe-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"--fixtures {folder}: cannot write there ({exc.strerror})") from None


def _cmd_generate(args):
    from .fixture_gen import generate
    out = args.fixtures or default_fixture_dir()
    jobs = _jobs(args.jobs)
    _writable_folder(str(out))
    start = time.perf_counter()
    try:
        done = generate(out, args.cases, jobs)
    except ValueError as exc:
        print(f"diffmem fixtures generate: {exc}", file=sys.stderr)
        return 2
    size = sum(e["bytes"] for e in done.values())
    print(f"generated {len(done)} case(s), {size / 1e6:.2f} MB, into {out} "
          f"in {time.perf_counter() - start:.1f} s")
    if pathlib.Path(out).resolve() == default_fixture_dir():
        from .pin import write_pin
        print(f"pinned the bundled fixtures' manifest: sha256 {write_pin(out)} "
              f"(diffmem/harness/pin.py)")
    return 0


def _cmd_verify(args):
    from .fixture_gen import verify
    jobs = _jobs(args.jobs)
    start = time.perf_counter()
    try:
        names = case_names(args.fixtures, args.cases)
    except FixtureError as exc:
        print(f"diffmem fixtures verify: {exc}", file=sys.stderr)
        return 2
    if not names:
        print(f"diffmem fixtures verify: --cases {args.cases!r} matches no fixture",
              file=sys.stderr)
        return 2
    paths = [case_path(n, args.fixtures) for n in names]
    failures = verify(paths, jobs, args.exact)
    verdict = "FAILED" if failures else "passed"
    print(f"verify {verdict}: {len(names) - failures}/{len(names)} case(s) reproduce the "
          f"stored reference results ({time.perf_counter() - start:.1f} s)")
    return 1 if failures else 0


def _cmd_list(args):
    if args.catalogue:
        from . import catalogue as cat
        for name, spec in cat.catalogue().items():
            if matches(name, args.cases):
                print(f"{name:40s} {spec.description}")
        for name, why in cat.skipped():
            print(f"{name:40s} (not generated: {why})")
        return 0
    try:
        names = case_names(args.fixtures, args.cases)
    except FixtureError as exc:
        print(f"diffmem fixtures list: {exc}", file=sys.stderr)
        return 2
    if not names:
        raise UsageError(f"--cases {args.cases!r} matches no fixture in "
                         f"{args.fixtures or default_fixture_dir()}")
    print(f"{'case':40s} {'config':46s} {'B':>2s} {'T':>4s} {'regime':14s} "
          f"{'data':19s} {'KiB':>6s}")
    bad = 0
    total = 0
    for name in names:
        path = case_path(name, args.fixtures)
        try:
            case = load_case(path)
        except FixtureError as exc:
            bad += 1
            print(f"{name:40s} UNREADABLE: {exc}")
            continue
        size = path.stat().st_size
        total += size
        summary = case.meta.get("summary") or str(case.config.to_dict())
        data = case.meta.get("data", {}).get("task", "?")
        print(f"{name:40s} {summary:46s} {case.batch_size:2d} {case.steps:4d} "
              f"{case.meta.get('regime', '?'):14s} {data:19s} {size / 1024:6.1f}")
    print(f"{len(names)} case(s), {total / 1e6:.2f} MB" + (f", {bad} unreadable" if bad else ""))
    return 1 if bad else 0


def add_fixture_commands(subparsers):
    fixtures = subparsers.add_parser(
        "fixtures", help="generate, verify or list the golden fixtures",
        description="The golden fixtures: the frozen reference's results on the catalogue "
                    "of cases (docs/harness.md, 'Golden fixtures').")
    sub = fixtures.add_subparsers(dest="fixtures_command", required=True, metavar="ACTION")

    def common(p, jobs=True):
        p.add_argument("--cases", default="*", metavar="GLOB",
                       help="case names to include (shell glob; comma-separated for several)")
        p.add_argument("--fixtures", default=None, metavar="DIR",
                       help="fixture folder, as for `diffmem check --fixtures` (default: "
                            "the installed diffmem fixtures)")
        # The old name, kept working but not shown: one name per concept in the help.
        p.add_argument("--dir", dest="fixtures", help=argparse.SUPPRESS)
        if jobs:
            p.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                           help="worker processes (default 0: one per CPU)")

    gen = sub.add_parser("generate", help="run the reference on the catalogue and write the "
                                          "fixture files and manifest (deterministic)",
                         description="Run the frozen reference on the catalogued cases and "
                                     "write one .npz per case and the manifest into the "
                                     "fixture folder (created if missing).")
    common(gen)
    gen.set_defaults(func=_cmd_generate)

    ver = sub.add_parser("verify", help="re-run the reference and compare with the stored "
                                        "files (the guard that keeps the reference frozen)",
                         description="Re-run the reference on every stored case and compare "
                                     "each tensor with the stored one; exit 1 on a difference.")
    common(ver)
    ver.add_argument("--exact", action="store_true",
                     help="demand bit-identical results (default: float64 within 1e-12 and "
                          "float32 within 1e-4 of each tensor's scale)")
    ver.set_defaults(func=_cmd_verify)

    lst = sub.add_parser("list", help="list the fixture cases: config, B, T, regime, data, size",
                         description="List the fixture cases of a folder (or, with "
                                     "--catalogue, what generate would write).")
    common(lst, jobs=False)
    lst.add_argument("--catalogue", action="store_true",
                     help="list the catalogue (what generate would write) instead of the files")
    lst.set_defaults(func=_cmd_list)
