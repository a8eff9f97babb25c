"""The work of a check: its items, their order, and when to stop early.

A check runs every (backend, dtype) *pair* on every case.  Cases that share a
configuration and array shapes form a *group* (one JAX compile serves the group), and a
group is one task for a worker process (``pool.py``); within a task the runs go case by
case, pair by pair (``runs``), so a task cut short by a dying worker resumes after the
run it died in.

Early stop: when ``max_errors`` runs end in the same error (``error_signature``), every
pair that met that error is not run any further -- the worker skips it within its task,
and later tasks start with what the parent has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .compare import CaseResult, error_signature

Pair = tuple   # (backend spec, dtype)


@dataclass(frozen=True)
class CaseRef:
    """A case a worker can load by itself: a fixture by name, or a held-out draw (or
    ready-made by the parent, ``prepare.py``)."""
    name: str
    fixtures: str | None = None
    heldout: dict | None = None
    prepared: object = field(default=None, compare=False, repr=False)

    def load(self, precisions):
        if self.prepared is not None:
            return self.prepared.case()
        if self.heldout is not None:
            from .heldout import make_case
            return make_case(self.heldout, precisions)
        from .fixture_io import case_path, load_case
        return load_case(case_path(self.name, self.fixtures))


def groups(refs, shapes) -> list:
    """Cases that share a shape key, fixture groups first and held-out groups last (the
    parent draws the held-out cases, the reference's runs on them, while the workers run
    the fixtures: ``prepare.py``): the check's tasks."""
    out = {}
    for ref in refs:
        out.setdefault(shapes[ref.name], []).append(ref)
    return sorted(out.values(), key=lambda g: g[0].heldout is not None)


def runs(group, pairs) -> list:
    """The runs of a task, in the order a worker does them: (case ref, pair)."""
    return [(ref, pair) for ref in group for pair in pairs]


def first_line(error: str) -> str:
    return error.split(" (at ", 1)[0].splitlines()[0]


def not_run(name, pair, why) -> CaseResult:
    spec, dtype = pair
    return CaseResult(name, spec, dtype, 0.0, source=spec, error=f"not run: {why}")


INTERRUPTED = "the check was interrupted (Ctrl-C or SIGTERM) before this run"


@dataclass
class EarlyStop:
    """Counts runs per error signature; a pair that met an error ``max_errors`` times
    (counted over every pair that met it) stops.  ``max_errors`` None: never."""
    max_errors: int | None = None
    seen: dict = field(default_factory=dict)      # signature -> (count, pairs that met it)
    stopped: dict = field(default_factory=dict)   # pair -> first line of the error

    def record(self, result: CaseResult):
        sig = error_signature(result)
        if sig is None or result.error.startswith("not run"):
            return
        pair = (result.source, result.dtype)
        count, met = self.seen.get(sig, (0, frozenset()))
        self.seen[sig] = (count + 1, met | {pair})
        if self.max_errors and count + 1 >= self.max_errors:
            for p in self.seen[sig][1]:
                self.stopped.setdefault(p, first_line(result.error))

    def why(self, pair) -> str | None:
        """Why ``pair`` is not run any more, or None."""
        if pair not in self.stopped:
            return None
        return (f"the check stopped early after {self.max_errors} runs ended in the same "
                f"error ({self.stopped[pair]}); --keep-going runs everything")

    def all_stopped(self, pairs) -> bool:
        return all(p in self.stopped for p in pairs)


# ---------------------------------------------------------------- shards

def parse_shard(text) -> tuple:
    """``"i/n"`` (1 <= i <= n) -> (i, n); ValueError with one line otherwise."""
    index, slash, count = str(text).partition("/")
    try:
        index, count = int(index), int(count)
    except ValueError:
        index = count = None
    if not slash or index is None or count < 1 or not 1 <= index <= count:
        raise ValueError(f"--shard: expected i/n with 1 <= i <= n (e.g. 2/4), got {text!r}")
    return index, count


def shard(refs, shapes, index, count) -> list:
    """The cases of shard ``index`` of ``count`` (1-based): whole groups (a case's every
    backend and dtype in one shard, so its float64 run can vouch for its float32 one),
    dealt largest first to the least loaded shard.  A pure function of the cases, so
    every machine of a CI matrix that draws the same cases (same fixtures, same --seed)
    computes the same split, and the shards together hold every case once."""
    def weight(g):
        return len(g) * (HELDOUT_WEIGHT if g[0].heldout is not None else 1)
    load = [0] * count
    mine = set()
    for g in sorted(groups(refs, shapes), key=lambda g: (-weight(g), g[0].name)):
        i = min(range(count), key=lambda k: (load[k], k))
        load[i] += weight(g)
        if i == index - 1:
            mine.update(r.name for r in g)
    return [r for r in refs if r.name in mine]


# A held-out case costs its reference run besides the backend's: about three fixtures.
HELDOUT_WEIGHT = 3
