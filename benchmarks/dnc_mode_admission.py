"""How many DNC cases each low-precision mode admits (models/dnc/README.md, "The
low-precision modes"): DNC.md's admission rule on the reference's emulated tf32, bfloat16
and float16 runs (forward only, both product styles), on the bundled fixtures and on the
first N held-out draws of a seed.  Prints, per mode, the cases admitted, the rule that
refused the others ((a) another free list, (b) a near-tie that matters) and the median of
the first break's step as a fraction of T (a refused case is checked in the mode up to
there, then held to the noise bound: ``Family.noise_from``).

    python benchmarks/dnc_mode_admission.py --seed 202 --heldout 100
"""

import argparse
import collections

import numpy as np

from diffmem.harness.fixture_io import list_cases
from diffmem.models.dnc import cases as C
from diffmem.models.dnc import reference as R
from diffmem.reference.precision import LOW_PRECISION


def measure(items):
    """items: (cfg, params, inputs, targets, mask) -> (count, admitted, refusals, t0 / T)."""
    admitted, refused, where, n = collections.Counter(), collections.Counter(), \
        collections.defaultdict(list), 0
    for cfg, params, x, y, m in items:
        n += 1
        run64 = R.run_batch(cfg, params, x, y, m, want_grads=False)
        for mode in LOW_PRECISION:
            found = C.mode_admission_break(cfg, params, x, y, m, run64, mode)
            if found is None:
                admitted[mode] += 1
            else:
                refused[mode, found[1].split("rule: ", 1)[1][:3]] += 1
                where[mode].append(found[0] / x.shape[1])
    return n, admitted, refused, where


def report(label, result):
    n, admitted, refused, where = result
    for mode in LOW_PRECISION:
        rules = {rule: k for (m, rule), k in sorted(refused.items()) if m == mode}
        t0 = f"{np.median(where[mode]):.2f}" if where[mode] else "-"
        print(f"{label:9s} {mode:9s} admitted {admitted[mode]:4d} of {n:4d}   refused by "
              f"{rules}   first break at t0 / T, median {t0}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=202, help="held-out seed (default 202)")
    p.add_argument("--heldout", type=int, default=100, help="held-out draws (default 100)")
    args = p.parse_args(argv)
    fixtures = [(c.config, c.params, c.inputs, c.targets, c.mask)
                for c in list_cases(pattern="dnc-*")]
    report("fixtures", measure(fixtures))
    drawn = [C.admitted_draw(args.seed, i)[1] for i in range(args.heldout)]
    report("held-out", measure(drawn))


if __name__ == "__main__":
    main()
