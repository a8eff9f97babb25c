"""``diffmem fuzz``: the draws, the shrinker (on a stand-in runner: no processes) and, end
to end, each of the three seeded scale-only bugs found and shrunk to its minimal case,
written as a fixture whose replay command fails the bug and passes the correct backend."""

import json

import numpy as np
import pytest

from diffmem.cli import main
from diffmem.harness.fuzz import (Finding, axes, draw_sizes, parse_limits, shrink_finding,
                                  signature)
from diffmem.models import family_named

NTM = family_named("ntm")


def test_draws_stay_in_range_and_meet_tile_boundaries():
    ranges = axes(NTM, {"batch": 100})
    assert ranges["batch"] == (1, 100) and ranges["steps"] == (1, 1024)
    rng = np.random.default_rng(0)
    drawn = [draw_sizes(rng, ranges) for _ in range(400)]
    for axis, (lo, hi) in ranges.items():
        values = [d[axis] for d in drawn]
        assert min(values) >= lo and max(values) <= hi
    steps = [d["steps"] for d in drawn]
    assert {63, 65, 129} & set(steps) and max(steps) > 500 and min(steps) < 8


def test_limits_are_checked():
    assert parse_limits(["batch=40", "rows=9"], NTM) == {"batch": 40, "rows": 9}
    for bad in ("batch", "colour=3", "batch=0", "steps=x"):
        with pytest.raises(ValueError, match="--max"):
            parse_limits([bad], NTM)


class Predicate:
    """A stand-in runner: a case fails (first divergence at the controller) iff
    ``fails(sizes)``; it counts the cases it was asked to run."""
    jobs = 2

    def __init__(self, fails):
        self.fails, self.ran = fails, 0

    def run(self, items, pairs, tolerance, precisions):
        self.ran += len(items)
        return [[_row(d["name"], self.fails(d["sizes"]))] for d in items]


def _row(name, bad, stage="controller"):
    return {"case": name, "backend": "b", "dtype": "float64", "error": None,
            "status": "fail" if bad else "pass", "seconds": 0.0, "first_divergence": "",
            "divergence": {"stage": {"number": 1, "name": stage}, "name": stage} if bad
            else None}


@pytest.mark.parametrize("fails, minimal", [
    (lambda s: s["batch"] > 32 and s["batch"] % 32, dict(batch=33)),
    (lambda s: s["steps"] > 64, dict(steps=65)),
    (lambda s: s["rows"] > 64 and s["rows"] % 64 and s["write_heads"] >= 3,
     dict(rows=65, write_heads=3)),
])
def test_shrink_finds_the_smallest_case_that_fails_alike(fails, minimal):
    start = dict(batch=300, steps=700, rows=200, read_heads=7, write_heads=5)
    assert fails(start)
    runner = Predicate(fails)
    first = {"family": "ntm", "seed": 3, "sizes": start, "name": "x"}
    finding = shrink_finding(NTM, runner, [], None, (), Finding(first, _row("x", True)),
                             axes(NTM), log=lambda line: None)
    expected = {**dict(batch=1, steps=1, rows=1, read_heads=1, write_heads=1), **minimal}
    assert finding.minimal["sizes"] == expected
    assert runner.ran < 120   # bisection, not a walk
    assert finding.path[-1] == expected


def test_shrink_keeps_only_the_same_failure():
    """A smaller case that fails elsewhere (another stage) is not the same bug."""
    def run(items, *rest):
        return [[_row(d["name"], True, "controller" if d["sizes"]["batch"] > 10 else "read")]
                for d in items]
    runner = Predicate(None)
    runner.run = run
    first = {"family": "ntm", "seed": 3, "sizes": dict(batch=40, steps=1, rows=1,
                                                       read_heads=1, write_heads=1), "name": "x"}
    finding = shrink_finding(NTM, runner, [], None, (), Finding(first, _row("x", True)),
                             axes(NTM), log=lambda line: None)
    assert finding.minimal["sizes"]["batch"] == 11
    assert signature(finding.minimal_row) == signature(_row("x", True))


BUGS = {   # the bug, the caps that keep its cases cheap, a seed that meets it early
    "batch_chunk_32": (["batch=40", "steps=4", "rows=8", "read_heads=2", "write_heads=2"], 1,
                       "-B33-T1-N1-R1W1-"),
    "step_wrap_64": (["batch=2", "steps=72", "rows=4", "read_heads=1", "write_heads=1"], 2,
                     "-B1-T65-N1-R1W1-"),
    "row_tile_64": (["batch=2", "steps=3", "rows=72", "read_heads=1", "write_heads=1"], 1,
                    "-B1-T1-N65-R1W1-"),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_fuzz_finds_and_shrinks_a_scale_only_bug(bug, tmp_path, capsys):
    caps, seed, minimal = BUGS[bug]
    backend = f"diffmem.backends.scale_bugs:{bug}"
    code = main(["fuzz", "--family", "ntm", "--backend", backend, "--dtype", "float64",
                 "--seed", str(seed), "--cases", "12", "--jobs", "2", "--out", str(tmp_path),
                 *[w for c in caps for w in ("--max", c)]])
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"minimal failing case: fuzz-ntm-" in out and minimal in out.split(
        "minimal failing case: ")[1].splitlines()[0], out
    replay = out.split("replay: ")[1].splitlines()[0].split()
    assert replay[:2] == ["diffmem", "check"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["cases"]) == 1
    assert main([*replay[1:], "--no-progress", "--jobs", "1"]) == 1   # the bug fails it
    at = replay.index(backend)
    assert main([*replay[1:at], "torch", *replay[at + 1:], "--no-progress",
                 "--jobs", "1"]) == 0                                   # a correct one passes


@pytest.mark.parametrize("name", sorted(n for n, f in __import__("diffmem.models", fromlist=[
    "families"]).families().items() if f.fuzz_axes))
def test_every_fuzzed_family_draws_cases_a_correct_backend_passes(name):
    """Through the seam: small draws of each fuzzed family build, the reference runs on
    them, and the bundled torch backend passes them; the same seed with other sizes keeps
    everything but the sizes."""
    from diffmem.backends.protocol import load_backend
    from diffmem.harness.compare import PASS, run_case
    from diffmem.harness.fuzz import describe
    from diffmem.harness.heldout import make_case
    fam = family_named(name)
    small = {a: (lo, min(hi, lo + 4)) for a, (lo, hi) in fam.fuzz_axes.items()}
    rng = np.random.default_rng(5)
    torch = load_backend("torch", "cpu", "float64")
    d = describe(fam, 1, draw_sizes(rng, small))
    assert run_case(torch, make_case(d), "float64", paths=False).status == PASS, d["name"]
    for seed in (1, 2):
        lo = {a: r[0] for a, r in small.items()}
        shrunk = fam.fuzz_case(seed, lo).build()[0].to_dict()
        grown = fam.fuzz_case(seed, {a: r[1] for a, r in small.items()}).build()[0].to_dict()
        assert {k for k in shrunk if shrunk[k] != grown[k]} <= {
            "memory_rows", "read_heads", "write_heads", "sequences", "cu_seqlens", "heads",
            "value_heads", "depth", "stacks", "top_k"}


def test_delta_fuzz_draws_varlen_rows():
    fam = family_named("delta")
    configs = [fam.fuzz_case(seed, dict(batch=5, steps=70, heads=3)).build()[0]
               for seed in range(8)]
    varlen = [c for c in configs if c.cu_seqlens is not None]
    assert varlen and len(varlen) < len(configs)
    assert all(c.sequences == 5 and c.cu_seqlens[-1] == 70 for c in varlen)
