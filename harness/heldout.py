"""Held-out random cases: drawn fresh by every ``diffmem check``, never stored.

The frozen fixtures are few and small; kernels break elsewhere (batch sizes that do not
fill a tile, many heads, long sequences, big memories).  Each check therefore also draws
``--heldout N`` cases per family (``Family.heldout``) from a seed that is new each time
unless given (``--seed``) and printed, so a failure replays exactly.  The reference
computes their expected values on the fly; a backend that memorised the fixture files
learns nothing about these.
"""

from __future__ import annotations

import numpy as np

from diffmem.models import families, family_named


def new_seed() -> int:
    """A fresh seed for a check run (printed, so the run can be replayed)."""
    return int(np.random.SeedSequence().entropy % (2**31))


def descriptions(seed: int, count: int, chosen=None) -> list:
    """Plain descriptions (no arrays) of ``count`` held-out cases per family (of the
    ``chosen`` family names; None: every family)."""
    return [{"family": name, "seed": seed, "index": i, "name": fam.heldout(seed, i).name}
            for name, fam in families().items() if chosen is None or name in chosen
            for i in range(count)]


def make_case(description: dict, precisions=("float64", "float32")):
    """The Case (the same type a fixture file loads into) of a ``descriptions`` entry (or
    of a ``diffmem fuzz`` draw: ``sizes`` instead of ``index``), with the reference's
    results in ``precisions``."""
    from .testing import reference_case
    d = description
    fam = family_named(d["family"])
    case = fam.fuzz_case(d["seed"], d["sizes"]) if "sizes" in d else fam.heldout(d["seed"],
                                                                                d["index"])
    config, params, inputs, targets, mask, meta = case.build()
    return reference_case(case.name, config, params, inputs, targets, mask, meta,
                          precisions=precisions)
