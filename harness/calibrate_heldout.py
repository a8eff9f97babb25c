"""``diffmem calibrate --heldout``: the tolerance measured on the cases a check draws.

The random configurations of ``diffmem calibrate`` are short (T <= 60, B <= 2); a check's
held-out cases are not (``Family.heldout``: the NTM's long shape runs 64-128 steps, its
many-heads shape 3-4 heads of each kind), and there float32 is at its most fragile: a
long sharp sequence is chaotic, and one float32 run is a single draw from a spread that
covers orders of magnitude.  This mode calibrates on those draws, weighted towards the
regimes where false alarms live: long, sharp (or extreme logits) and many heads.

Cases are drawn as a check draws them (seed, index); a draw is kept with probability
``weight(tags)`` from a generator of its own, so the selection is a pure function of the
seed.  Each case runs the first backend given on every case and the others in turn, one
per case (``--rotate``): the bundled backend sees every case, each variant or rewrite a
share, which is what fits a shared machine's CPU.
"""

from __future__ import annotations

import numpy as np

# Keep-probability of a held-out draw by its tags (the NTM's are (shape, regime)); a
# family whose draws carry other tags keeps them all.
SHAPE_WEIGHT = {"long": 1.0, "many-heads": 0.6, "wide-batch": 0.15, "big-memory": 0.15}
REGIME_WEIGHT = {"sharp": 1.0, "extreme_logits": 0.8, "init": 0.3}


def weight(tags) -> float:
    w = 1.0
    for tag in tags or ():
        w *= SHAPE_WEIGHT.get(tag, 1.0) * REGIME_WEIGHT.get(tag, 1.0)
    return w


def draws(seed, count, family):
    """The first ``count`` held-out draws of ``family`` (a Family) kept by ``weight``."""
    out, index = [], 0
    while len(out) < count:
        case = family.heldout(seed, index)
        keep = np.random.default_rng([seed, index, 7]).uniform() < weight(case.tags)
        if keep:
            out.append(index)
        index += 1
        if index > 100 * count + 100:   # a family whose draws all weigh ~0
            break
    return out


def run_heldout_case(seed, family_name, index, backends, dtypes, tolerance, rotate):
    """One held-out case through the first ``rotate`` backends and one of the rest (in
    turn by position) -> (case, {(backend, dtype): CaseResult}), float64 runs covering
    the others as in a check."""
    from diffmem.backends.protocol import load_backend
    from diffmem.models import family_named

    from .compare import cover_runs, run_case
    from .testing import reference_case
    fam = family_named(family_name)
    spec = fam.heldout(seed, index)
    cfg, params, inputs, targets, mask, meta = spec.build()
    case = reference_case(spec.name, cfg, params, inputs, targets, mask, meta,
                          precisions=("float64", "float32"))
    fixed, rest = list(backends[:rotate]), list(backends[rotate:])
    chosen = fixed + ([rest[index % len(rest)]] if rest else [])
    runs = {}
    for b in chosen:
        for d in dtypes:
            r = run_case(_backend(load_backend, b, d), case, d, tolerance, paths=False)
            r.source = b
            runs[(b, d)] = r
    cover_runs(list(runs.values()))
    return case, runs


_MADE = {}   # per worker process: backends (and their compiled programs) are reused


def _backend(load_backend, spec, dtype):
    if (spec, dtype) not in _MADE:
        _MADE[(spec, dtype)] = load_backend(spec, "cpu", dtype)
    return _MADE[(spec, dtype)]
