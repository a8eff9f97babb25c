"""Running the bug catalogue (``bugs.py``) through the check machinery.

``hunt`` gives, per bug, whether some fixture case caught it (float64 first, then
float32), which case, and whether the first divergence named the stage where the bug
lives.  By default it stops at the first case that catches it and names its stage
(the CI test; it scans on while a catch is not localised); ``exhaustive``
runs every case and dtype and reports, per bug, how many runs caught it and how many of
those localised it correctly.

    python -m diffmem.harness.bug_hunt [--exhaustive] [--cases GLOB] [--fixtures DIR]
        [--dtype float64,float32 | tf32 | bfloat16 | float16 ...]

``--dtype`` picks the precisions tried (default float64 then float32).  A
low-precision mode alone (``--dtype bfloat16``) answers "which bugs does a check in that
mode still catch": the bug runs in the mode (its products rounded like a correct
kernel's) against the mode's bound; a bug whose effect is smaller than the mode's own
rounding noise survives there, and the float64 / float32 checks are what catch it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

from diffmem.models import families

from .compare import ERROR, FAIL, run_case
from .tolerance import Tolerance


def all_bugs() -> dict:
    """name -> (family name, bug class) over every registered family's catalogue."""
    out = {}
    for fam in families().values():
        for name, cls in fam.bugs().items():
            if name in out:
                raise RuntimeError(f"bug name {name!r} is in the {out[name][0]!r} and "
                                   f"{fam.name!r} catalogues")
            out[name] = (fam.name, cls)
    return out


@dataclass
class Verdict:
    bug: str
    stages: tuple
    caught_by: str | None = None      # "case (dtype)" of the first catching run
    localised: bool = False           # in that run
    found_at: object = None           # the stage the harness named
    line: str = ""
    runs: int = 0
    catches: int = 0                  # exhaustive: runs that failed
    localised_runs: int = 0           # exhaustive: failing runs localised to STAGES
    notes: list = field(default_factory=list)

    @property
    def caught(self):
        return self.caught_by is not None


def _runs(cases, needs, dtypes):
    """(case, dtype) in the order to try: cases that carry one of the bug's tags first (in
    every dtype), then the rest, cheapest first."""
    def tagged(case):
        tags = set(case.meta.get("tags", ()))
        if "batch" in needs and case.inputs.shape[0] > 1:
            tags.add("batch")
        return bool(tags & set(needs))
    return sorted(((c, d) for c in cases for d in dtypes),
                  key=lambda cd: (not tagged(cd[0]), dtypes.index(cd[1]), cd[0].inputs.size))


def hunt_one(name, cases, dtypes=("float64", "float32"), exhaustive=False, tolerance=None,
             device="cpu", backend_module="torch"):
    import importlib
    bugs = all_bugs()
    if name not in bugs:
        raise ValueError(f"bug {name!r}: not in any family's catalogue (known: {sorted(bugs)})")
    family, cls = bugs[name]
    # A bug is a subclass of its family's batched form: it runs that family's cases only.
    cases = [c for c in cases if c.model.family.name == family]
    make = importlib.import_module(f"diffmem.backends.{backend_module}").make_backend
    verdict = Verdict(name, cls.STAGES)
    backends = {d: make(device, d, model_cls=cls) for d in dtypes}
    for case, dtype in _runs(cases, cls.NEEDS, tuple(dtypes)):
        r = run_case(backends[dtype], case, dtype, tolerance or Tolerance(), paths=False)
        verdict.runs += 1
        # Only a failure or an error is a catch: "incomplete" (tensors a low precision
        # holds to its noise bound only, left for a float64 run) says nothing of the bug.
        if r.status not in (FAIL, ERROR):
            continue
        stage = r.divergence.stage if r.divergence else None
        # A cause that stays within tolerance at its own stage is named by the suspect
        # line (float64), even where the first divergence surfaces downstream.
        ok = stage in cls.STAGES or bool(r.suspect and r.suspect.stage in cls.STAGES)
        verdict.catches += 1
        verdict.localised_runs += ok
        if not verdict.caught or (ok and not verdict.localised):
            # A forward bug may first show as rounding-level gradient noise (e.g.
            # softmax without max subtraction in float64); keep looking for the run
            # that shows it where it lives.
            verdict.caught_by, verdict.localised = f"{case.name} ({dtype})", ok
            verdict.found_at = stage
            verdict.line = r.error or r.first_divergence
        if verdict.localised and not exhaustive:
            return verdict
    return verdict


def hunt(cases, names=None, **kwargs):
    return [hunt_one(n, cases, **kwargs) for n in (names or sorted(all_bugs()))]


def _stage_text(stage):
    return "none" if stage is None else f"{stage.number} {stage.name}" \
        if stage.number < 10**6 else stage.name


def format_verdicts(verdicts, exhaustive=False) -> str:
    lines = []
    for v in verdicts:
        status = "caught" if v.caught else "SURVIVED"
        loc = ("" if not v.caught else ("localised" if v.localised
                                         else f"MISLOCALISED (named {_stage_text(v.found_at)})"))
        extra = f"  {v.localised_runs}/{v.catches} of {v.runs} runs" if exhaustive else ""
        lines.append(f"{v.bug:28s} {'/'.join(map(_stage_text, v.stages)):22s} {status:8s} {loc:12s} "
                     f"{v.caught_by or '-'}{extra}")
    caught = sum(v.caught for v in verdicts)
    localised = sum(v.caught and v.localised for v in verdicts)
    lines.append(f"kill rate: {caught}/{len(verdicts)} bugs caught; localisation: "
                 f"{localised}/{caught} caught bugs named at the stage where they live")
    if exhaustive:
        runs = sum(v.catches for v in verdicts)
        good = sum(v.localised_runs for v in verdicts)
        lines.append(f"over all failing runs: {good}/{runs} localised to the bug's stage")
    return "\n".join(lines)


def main(argv=None):
    from .check import load_cases
    parser = argparse.ArgumentParser(description="Run the kernel-bug catalogue against "
                                                 "the fixtures and print the kill rate.")
    parser.add_argument("--cases", default="*")
    parser.add_argument("--fixtures", default=None)
    parser.add_argument("--bugs", default=None, help="comma-separated bug class names")
    parser.add_argument("--exhaustive", action="store_true",
                        help="every bug on every case and dtype (slow)")
    parser.add_argument("--backend-module", default="torch", choices=("torch", "jax"))
    parser.add_argument("--dtype", default="float64,float32", metavar="LIST",
                        help="precisions to try, in order (comma-separated: float64, "
                             "float32, tf32, bfloat16, float16; default float64,float32)")
    args = parser.parse_args(argv)
    from .options import parse_dtypes
    try:
        dtypes = list(parse_dtypes(args.dtype))   # in the order given
    except ValueError as exc:
        print(f"bug_hunt: {exc}", file=sys.stderr)
        return 2
    cases = load_cases(args.fixtures, args.cases)
    # Without --bugs: the catalogues of the families whose cases were loaded (a bug with no
    # case of its family to run on is not reported as having survived).
    present = {c.model.family.name for c in cases}
    names = args.bugs.split(",") if args.bugs else \
        sorted(name for name, (family, _) in all_bugs().items() if family in present)
    verdicts = hunt(cases, names, exhaustive=args.exhaustive,
                    backend_module=args.backend_module, dtypes=tuple(dtypes))
    print(format_verdicts(verdicts, args.exhaustive))
    return 0 if all(v.caught and v.localised for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
