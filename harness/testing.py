"""Cases made on the fly from the reference, for tests and calibration (not fixtures).

``reference_case`` runs the reference in float64 and float32 on given data and wraps
the results in the same ``Case`` a fixture file loads into, so everything that checks
fixtures (``compare.run_case``, the report) checks these too.  The runs of the
low-precision modes (tf32, bfloat16, float16, the baselines of those modes) are made
when first looked up (``case.expected["tf32"]``), or at once for those named in
``precisions``: a float32 test does not pay for them.
"""

from __future__ import annotations

import pathlib

import numpy as np

from .baselines import reference_run
from .fixture_io import DTYPES, Case, family_dtypes
from diffmem.models import bind


class ReferenceRuns(dict):
    """dtype -> the reference's run; a dtype of ``fixture_io.DTYPES`` not yet run is run
    on first look-up (``run(dtype, runs)``, given the runs so far) and kept: a float32
    test does not pay for the low-precision modes' runs, and
    ``case.expected["bfloat16"]`` still works."""

    def __init__(self, run, dtypes, allowed=DTYPES, ready=None):
        super().__init__(ready or {})
        self._run, self._dtypes = run, allowed
        for dtype in dtypes:      # float64 first: a mode's baseline is measured from it
            if dtype not in self:
                self[dtype] = run(dtype, self)

    def __missing__(self, dtype):
        if dtype not in self._dtypes:
            raise KeyError(dtype)
        self[dtype] = self._run(dtype, self)
        return self[dtype]


def reference_case(name, config, params, inputs, targets, mask, meta=None,
                   precisions=("float64", "float32"), ready=None) -> Case:
    """A Case holding the reference's results on these arrays in ``precisions`` (float64
    always: it is what every backend is compared with); any other dtype of
    ``fixture_io.DTYPES`` is run on first use of ``expected[dtype]``.  ``ready``: runs
    already made on these very arrays (dtype -> run), kept instead of run again."""
    model = bind(config)
    precisions = ("float64",) + tuple(p for p in precisions if p != "float64")

    def run(dtype, runs):
        exp64 = runs["float64"] if dtype != "float64" else None
        return reference_run(model, params, inputs, targets, mask, dtype, exp64)
    allowed = family_dtypes(model)
    expected = ReferenceRuns(run, [p for p in precisions if p in allowed], allowed, ready)
    return Case(name=name, path=pathlib.Path(f"<{name}>"), model=model, meta=dict(meta or {}),
                params=params, inputs=inputs, targets=targets, mask=mask, expected=expected)


def tiny_case(name="tiny", seed=0, regime="init", batch=2, steps=5, **config) -> Case:
    """A small random case (random data, ragged mask) for unit tests: an NTM unless
    ``config`` names another ``model`` (then ``config`` holds that family's fields)."""
    sizes = dict(input_size=3, output_size=2, controller_size=5, memory_rows=4,
                 memory_width=3) if config.get("model", "ntm") == "ntm" else {}
    sizes.update(config)
    model = bind(sizes)
    cfg = model.config
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((batch, steps, cfg.input_size))
    targets = rng.uniform(size=(batch, steps, cfg.output_size))
    mask = np.ones((batch, steps))
    mask[-1, steps // 2 + 1:] = 0.0 if batch > 1 else 1.0
    params = model.init_params(seed, regime)
    return reference_case(name, model, params, inputs, targets, mask,
                          {"tags": ["random"], "regime": regime})
