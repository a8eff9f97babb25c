"""``diffmem fuzz``: a campaign for the kernel bugs that show only at scale.

A check's cases are small (the reference must compute them in seconds); a kernel's
tile-remainder, chunking and index-width bugs live at batch 300, 700 steps, 200 memory
rows.  ``fuzz`` draws cases from a family's distribution widened to those sizes
(``Family.fuzz_axes``, each axis log-uniform between its smallest and largest, ``--max``
caps them), runs each through the backend against the reference, and on the first
failure **shrinks** it: one axis at a time, bisecting between the largest value seen to
pass and the smallest seen to fail, it keeps a smaller case only if it still fails with
the same first divergence (stage and trace entry, or the same error).  The minimal case
is written in the fixture format, with the one ``diffmem check`` command that replays it
-- what Hypothesis does for properties, done for recurrences.

Each case (its reference run included) is a task of the check's worker pool
(``pool.py``: a crash or hang costs that case) or, with ``--ray``, of a Ray cluster
(``ray_runner.py``, one worker per GPU); the cases of a round run in parallel.  The
shrink keeps every other draw of the case (controller, widths, regime, data seed): only
the sizes change (``Family.fuzz_case``).
"""

from __future__ import annotations

import math
import pathlib
import time
from dataclasses import dataclass, field

import numpy as np

from .compare import CaseResult
from .verdict import PASS, UNSUPPORTED


# ---------------------------------------------------------------- the cases

def parse_limits(items, family) -> dict:
    """``["batch=40", "steps=80"]`` -> {axis: largest}; ValueError naming the bad one."""
    out = {}
    for item in items or ():
        axis, eq, value = str(item).partition("=")
        if axis not in family.fuzz_axes or not eq:
            raise ValueError(f"--max {item!r}: expected AXIS=N with AXIS one of "
                             f"{', '.join(family.fuzz_axes)} (family {family.name})")
        try:
            n = int(value)
        except ValueError:
            n = 0
        lo = family.fuzz_axes[axis][0]
        if n < lo:
            raise ValueError(f"--max {item!r}: expected an integer >= {lo} for {axis}")
        out[axis] = n
    return out


def axes(family, limits=None) -> dict:
    """{axis: (smallest, largest)}: the family's fuzz axes under ``limits``."""
    limits = limits or {}
    return {a: (lo, min(hi, limits.get(a, hi))) for a, (lo, hi) in family.fuzz_axes.items()}


def draw_sizes(rng, ranges) -> dict:
    """One value per axis: half the time log-uniform in its range (small and large sizes
    equally often per octave), half the time next to a tile boundary (a power of two
    from 16 up, plus or minus a little), where tile-remainder, chunking and index-width
    bugs live -- the boundary values a property-based tester prefers."""
    return {a: _near_tile(rng, lo, hi) if rng.uniform() < 0.5 else _log_uniform(rng, lo, hi)
            for a, (lo, hi) in ranges.items()}


def _log_uniform(rng, lo, hi) -> int:
    return int(min(hi, math.floor(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


def _near_tile(rng, lo, hi) -> int:
    tiles = [t for t in (16, 32, 64, 128, 256, 512, 1024) if lo < t <= hi + 1]
    if not tiles:
        return _log_uniform(rng, lo, hi)
    t = int(rng.choice(tiles))
    offset = int(rng.choice([1, -1, int(rng.integers(1, t // 2 + 1))]))
    return int(min(hi, max(lo, t + offset)))


def describe(family, seed, sizes) -> dict:
    """A fuzz case as plain data (what a worker needs to build it: ``heldout.make_case``)."""
    return {"family": family.name, "seed": int(seed), "sizes": dict(sizes),
            "name": family.fuzz_case(int(seed), sizes).name}


def cost(sizes) -> int:
    return math.prod(sizes.values())


# ---------------------------------------------------------------- running

def fuzz_task(pairs, device, description, tolerance, timeout, precisions):
    """Worker (a pool task or a Ray task): one case (drawn and its reference run here),
    every pair, with the production call but not the repeated one (a campaign's cases
    are all different); yields plain dicts (``report.result_dict``), the same on either
    runner."""
    from .check import Unavailable, backend_for
    from .compare import run_case
    from .heldout import make_case
    from .report import result_dict
    case = make_case(description, precisions)
    for spec, dtype in pairs:
        backend = backend_for(spec, device, dtype)
        if isinstance(backend, Unavailable):
            result = CaseResult(case.name, spec, dtype, 0.0, error=backend.reason)
        else:
            result = run_case(backend, case, dtype, tolerance, repeat=False,
                              timeout=timeout or None)
        result.source, result.heldout = spec, True
        yield result_dict(result)


class LocalRunner:
    """The check's worker pool, kept warm across the rounds of a campaign."""

    def __init__(self, jobs, device, timeout):
        from .pool import Pool
        self.jobs, self.device, self.timeout = jobs, device, timeout
        self.pool = Pool(jobs, device, timeout)

    def run(self, items, pairs, tolerance, precisions) -> list:
        """[description] -> [[result dict per pair]], in order."""
        from .pool import Died, Part, Raised
        rows = {i: [] for i in range(len(items))}
        for i, d in enumerate(items):
            self.pool.submit(i, lambda d=d: (fuzz_task, (pairs, self.device, d, tolerance,
                                                         self.timeout, precisions)))
        for event in self.pool.events():
            if isinstance(event, Part):
                rows[event.key].append(event.value)
            elif isinstance(event, Raised):   # diffmem's own failure, not the backend's
                raise RuntimeError(f"the harness failed on {items[event.key]['name']}: "
                                   f"{event.error}")
            elif isinstance(event, Died):
                d = items[event.key]
                for spec, dtype in pairs[len(rows[event.key]):]:
                    rows[event.key].append(_error_row(d["name"], spec, dtype, event.reason))
        return [rows[i] for i in range(len(items))]

    def close(self):
        self.pool.close()


def _error_row(case, spec, dtype, why) -> dict:
    from .report import result_dict
    return result_dict(CaseResult(case, spec, dtype, 0.0, source=spec, heldout=True,
                                  error=f"crashed: {why}"))


def failed(row) -> bool:
    return row["status"] not in (str(PASS), str(UNSUPPORTED))


def signature(row) -> tuple:
    """What "the same failure" means while shrinking: the status and where the first
    divergence is (its stage and trace entry: the step moves as the case shrinks), or
    the error with its numbers taken out."""
    from types import SimpleNamespace

    from .verdict import error_signature
    if row["error"] is not None:
        return (row["status"], error_signature(SimpleNamespace(case=row["case"],
                                                               error=row["error"])))
    div = row["divergence"] or {}
    stage = div.get("stage") or {}
    return (row["status"], stage.get("name") if isinstance(stage, dict) else stage,
            div.get("name"), div.get("tensor"))


# ---------------------------------------------------------------- the campaign

@dataclass
class Finding:
    found: dict                 # the description of the case that failed first
    row: dict                   # its failing result
    minimal: dict | None = None   # the shrunk description
    minimal_row: dict | None = None
    path: list = field(default_factory=list)   # the sizes of each case the shrink kept
    shrink_cases: int = 0
    shrink_seconds: float = 0.0


@dataclass
class Campaign:
    cases: int = 0
    seconds: float = 0.0
    workers: int = 1
    finding: Finding | None = None

    @property
    def per_second(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0


def run_campaign(family, runner, pairs, tolerance, precisions, *, seed, ranges, count=None,
                 budget=None, shrink=True, log=print) -> Campaign:
    """Draw cases (``count`` of them, or until ``budget`` seconds) ``runner.jobs`` at a
    time; stop at the first failure and shrink it."""
    rng = np.random.default_rng([seed, 0xF022])
    out = Campaign(workers=runner.jobs)
    start = time.perf_counter()
    index = 0
    while (count is None or out.cases < count) and \
            (budget is None or time.perf_counter() - start < budget):
        n = runner.jobs if count is None else min(runner.jobs, count - out.cases)
        items = [describe(family, int(rng.integers(2 ** 31)), draw_sizes(rng, ranges))
                 for _ in range(n)]
        results = runner.run(items, pairs, tolerance, precisions)
        out.cases += n
        out.seconds = time.perf_counter() - start
        for d, rows in zip(items, results):
            index += 1
            bad = [r for r in rows if failed(r)]
            log(f"case {index}: {d['name']}: "
                + (f"{bad[0]['status'].upper()} [{bad[0]['backend']}, {bad[0]['dtype']}] "
                   f"{_where(bad[0])}" if bad else "pass")
                + f" ({sum(r['seconds'] for r in rows):.1f} s in the backend)")
            if bad and out.finding is None:
                out.finding = Finding(d, bad[0])
        if out.finding is not None:
            break
    if out.finding is not None and shrink:
        shrink_finding(family, runner, pairs, tolerance, precisions, out.finding, ranges, log)
    return out


def _where(row) -> str:
    text = row["error"] if row["error"] is not None else row["first_divergence"] or ""
    return (text.splitlines() or [row["status"]])[0][:160]


def shrink_finding(family, runner, pairs, tolerance, precisions, finding, ranges, log=print):
    """Bisect each axis between the largest value known not to fail the same way and the
    current failing one; a round tries one or two values per axis in parallel and keeps
    the smallest case (fewest batch x steps x rows x heads) that fails the same way."""
    start = time.perf_counter()
    want = signature(finding.row)
    seed = finding.found["seed"]
    current, row = dict(finding.found["sizes"]), finding.row
    below = {a: lo - 1 for a, (lo, _) in ranges.items()}   # largest value not failing alike
    while True:
        tries = []
        for a, (lo, _) in ranges.items():
            if current[a] - below[a] <= 1:
                continue
            values = {(below[a] + current[a]) // 2}
            if below[a] < lo:
                values.add(lo)
            tries += [(a, v) for v in sorted(values) if lo <= v < current[a]]
        if not tries:
            break
        items = [describe(family, seed, dict(current, **{a: v})) for a, v in tries]
        results = runner.run(items, pairs, tolerance, precisions)
        finding.shrink_cases += len(items)
        best = None
        for (a, v), d, rows in zip(tries, items, results):
            same = [r for r in rows if failed(r) and signature(r) == want]
            if same and (best is None or cost(d["sizes"]) < cost(best[0]["sizes"])):
                best = (d, same[0])
            if not same:
                below[a] = max(below[a], v)
        if best is not None:
            current, row = dict(best[0]["sizes"]), best[1]
            finding.path.append(dict(current))
            log(f"shrunk to {best[0]['name']}: still {_where(row)}")
    finding.minimal = describe(family, seed, current)
    finding.minimal_row = row
    finding.shrink_seconds = time.perf_counter() - start
    return finding


# ---------------------------------------------------------------- the minimal case

def write_case(description, directory) -> pathlib.Path:
    """The case as a fixture file in ``directory`` (the fixture format, with the
    reference's results in every precision the family stores), entered in the folder's
    manifest (made if absent): ``diffmem check --fixtures DIR --trust-fixtures`` loads it."""
    from diffmem.models import bind, family_named

    from .fixture_gen import reference_runs
    from .fixture_io import (MANIFEST, case_entries, read_manifest, sha256_of, tool_versions,
                             write_manifest, write_npz)
    directory = pathlib.Path(directory)
    fam = family_named(description["family"])
    case = fam.fuzz_case(description["seed"], description["sizes"])
    config, params, inputs, targets, mask, meta = case.build()
    model = bind(config)
    runs = reference_runs(model, params, inputs, targets, mask)
    path = directory / f"{case.name}.npz"
    write_npz(path, case_entries(case.name, model, meta, params, inputs, targets, mask, runs))
    cases = read_manifest(directory)["cases"] if (directory / MANIFEST).exists() else {}
    cases[case.name] = {"file": path.name, "sha256": sha256_of(path),
                        "bytes": path.stat().st_size, "model": model.name,
                        "spec_version": model.spec_version, "tools": tool_versions()}
    write_manifest(directory, cases)
    return path


def replay_command(backend, dtype, device, directory, name) -> str:
    import shlex
    words = ["diffmem", "check", "--backend", backend, "--dtype", dtype]
    if device != "cpu":
        words += ["--device", device]
    words += ["--fixtures", str(directory), "--trust-fixtures", "--cases", name,
              "--heldout", "0"]
    return " ".join(shlex.quote(w) for w in words)
