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

from . import cases
from .batched import BatchedDelta
from .config import MODELS, SPEC_VERSION, DeltaConfig
from .layout import (describe_step, display_names, input_blocks, param_shapes, trace_entries,
                     trace_shapes)
from .reference import run_batch

SPEC = (str(pathlib.Path(__file__).resolve().parent / "spec" / "DELTA.md"),)
REGIMES = ("random",)


def init_params(cfg, seed, regime="random"):
    """h0 and dht ~ N(0, 1) (DELTA.md's data), a pure function of (cfg, seed)."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    import numpy as np
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in param_shapes(cfg).items()}


def _bugs():
    from .bugs import bugs
    return bugs()


def _variants():
    from .bugs import variants
    return variants()


FAMILY = Family(
    name="delta",
    spec_version=SPEC_VERSION,
    models=MODELS,
    spec=SPEC,
    config_from_dict=DeltaConfig.from_dict,
    param_shapes=param_shapes,
    init_params=init_params,
    regimes=REGIMES,
    trace_entries=trace_entries,
    trace_shapes=trace_shapes,
    run_reference=run_batch,
    batched=BatchedDelta,
    cases=cases.cases,
    heldout=cases.heldout,
    bugs=_bugs,
    summary=cases.summary,
    variants=_variants,
    input_blocks=input_blocks,
    display_names=display_names,
    describe_step=describe_step,
)

__all__ = ["FAMILY", "SPEC_VERSION", "DeltaConfig", "BatchedDelta", "run_batch"]
