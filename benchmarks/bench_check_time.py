"""Where the time of ``diffmem check`` goes: cold and warm per family, and a third-party
backend's overhead.

For each family (or the whole default check), runs ``diffmem check --family F --seed S
--no-progress --report R`` three times in a fresh cache folder (``XDG_CACHE_HOME``: JAX's
compilation cache and the stored traced programs): *cold* (empty, as on a fresh install),
*warm* (the same seed again, every program in the cache) and *warm, new seed* (seed
S + 1, as a second ``diffmem check`` draws: the fixtures' programs in the cache, the
held-out cases' new).  Prints the wall clock and the report's ``timing`` (seconds in the
workers:
loading fixtures, the held-out cases' reference runs, in the backend, of that
compiling, comparing).  ``--overhead BACKEND`` instead checks that backend with ``--jobs
1`` and prints the seconds diffmem spent beside the backend's own (wall minus the
backend's calls), per family.

    python benchmarks/bench_check_time.py [--family ntm ...] [--whole] [--seed 8]
        [--jobs N] [--overhead examples/my_kernel's my_kernel:make_backend]

(``--whole --family`` with no names: the whole default check alone.)

The machine's load (``os.getloadavg``) is printed with every row: on a shared machine the
figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def run_check(args, cache, report):
    # A fresh user's cache folder: JAX's compilation cache and the stored JAX programs
    # (backends/jax/stored.py) both live under it.
    env = {k: v for k, v in os.environ.items()
           if k not in ("JAX_COMPILATION_CACHE_DIR", "DIFFMEM_JAX_PROGRAMS")}
    env["XDG_CACHE_HOME"] = cache
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "diffmem", "check", "--no-progress",
                           "--report", report, *args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    data = json.load(open(report)) if os.path.exists(report) else {}
    summary = data.get("summary", {})
    return wall, proc.returncode, data.get("timing", {}), summary


def row(label, wall, code, timing, summary):
    load = os.getloadavg()[0]
    print(f"{label:<28} {wall:7.1f} s wall  exit {code}  runs {summary.get('runs', '-'):>4}  "
          f"case {timing.get('case', 0):6.1f}  reference {timing.get('reference', 0):6.1f}  backend {timing.get('backend', 0):6.1f}  "
          f"(compile {timing.get('compile', 0):6.1f})  harness {timing.get('harness', 0):5.1f}"
          f"  load {load:.1f}", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", nargs="*", default=None)
    p.add_argument("--whole", action="store_true", help="the whole default check too")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--overhead", default=None, metavar="BACKEND")
    a = p.parse_args()
    from diffmem.models import families
    names = list(families()) if a.family is None else a.family   # "--family": none
    jobs = ["--jobs", str(a.jobs)] if a.jobs else []
    print(f"{os.cpu_count()} cores; load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        if a.overhead:
            for name in names:
                cache = tempfile.mkdtemp(dir=tmp)
                wall, code, timing, summary = run_check(
                    ["--backend", a.overhead, "--family", name, "--seed", str(a.seed),
                     "--jobs", "1"], cache, report)
                row(f"{name} {a.overhead}", wall, code, timing, summary)
                print(f"{'':<28} diffmem beside the backend: "
                      f"{wall - timing.get('backend', 0):.1f} s (besides it: held-out reference "
                      f"runs {timing.get('reference', 0):.1f} s, in the parent while the "
                      f"backend ran)")
            return
        for name in names + (["(whole)"] if a.whole else []):
            cache = tempfile.mkdtemp(dir=tmp)
            family = [] if name == "(whole)" else ["--family", name]
            # The README's second run draws a new seed: its held-out programs are new.
            for label, seed in (("cold", a.seed), ("warm", a.seed), ("warm, new seed", a.seed + 1)):
                wall, code, timing, summary = run_check(
                    [*family, "--seed", str(seed), *jobs], cache, report)
                row(f"{name} {label}", wall, code, timing, summary)


if __name__ == "__main__":
    main()
