"""Fast-weight memory with the delta rule: DeltaNet and Gated DeltaNet as
flash-linear-attention's operator (spec ``delta/1``, DELTA.md), an op-level diffmem family.

Read in this order: ``config`` (sizes and flags), ``layout`` (input blocks, parameters,
sequences, trace names, stages, the strided state steps), ``reference`` (the frozen
per-step recurrence and the two-style baselines), ``batched`` (the chunked WY form over an
ops table), ``bugs`` (the kernel bug catalogue), ``cases`` (fixture cases and held-out
draws).  No controller, no tasks, no training.
"""

from __future__ import annotations

import pathlib

from diffmem.models.family import Family

from . import cases, layout
from .batched import BatchedDelta
from .config import MODELS, SPEC_VERSION, DeltaConfig
from .reference import run_batch

SPEC = (str(pathlib.Path(__file__).resolve().parent / "spec" / "DELTA.md"),)
REGIMES = ("random",)


class DeltaFamily(Family):
    name = "delta"
    spec_version = SPEC_VERSION
    models = MODELS
    spec = SPEC
    config_class = DeltaConfig
    regimes = REGIMES
    batched = BatchedDelta

    def param_shapes(self, cfg):
        return layout.param_shapes(cfg)

    def init_params(self, cfg, seed, regime="random"):
        """h0 and dht ~ N(0, 1) (DELTA.md's data), a pure function of (cfg, seed)."""
        if regime not in REGIMES:
            raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
        import numpy as np
        rng = np.random.default_rng(seed)
        return {k: rng.standard_normal(s) for k, s in layout.param_shapes(cfg).items()}

    def trace_entries(self, cfg):
        return layout.trace_entries(cfg)

    def trace_shapes(self, cfg, steps):
        return layout.trace_shapes(cfg, steps)

    def run_reference(self, cfg, params, inputs, targets, mask, **options):
        return run_batch(cfg, params, inputs, targets, mask, **options)

    def summary(self, cfg):
        return cases.summary(cfg)

    fuzz_axes = cases.FUZZ_AXES

    def fuzz_case(self, seed, sizes):
        return cases.fuzz_case(seed, sizes)

    def sizes(self, cfg, steps):
        return {"heads": (cfg.H, cfg.HV)}

    def cases(self):
        return cases.cases()

    def heldout(self, seed, index):
        return cases.heldout(seed, index)

    def gradcheck_cases(self):
        from .gradcheck import CASES
        return CASES

    def bugs(self):
        from .bugs import bugs
        return bugs()

    def variants(self):
        from .bugs import variants
        return variants()

    # the op-level comparison hooks (docs/harness.md, "Op-level families")
    def input_blocks(self, cfg):
        return layout.input_blocks(cfg)

    def display_names(self, cfg):
        return layout.display_names(cfg)

    def describe_step(self, cfg, t):
        return layout.describe_step(cfg, t)


FAMILY = DeltaFamily()

__all__ = ["FAMILY", "SPEC_VERSION", "DeltaConfig", "BatchedDelta", "run_batch"]
