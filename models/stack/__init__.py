"""The neural stack, queue and deque of Grefenstette et al. 2015 (spec ``stack/1``,
STACKS.md Part 1), as a diffmem model family.

Read in this order: ``config`` (sizes), ``layout`` (parameter names, interface layout,
trace names, stages and the padded row layout), ``reference`` (the frozen numpy oracle),
``params`` (seeded regimes), ``batched`` (the batched form over an ops table), ``bugs``
(the kernel bug catalogue), ``cases`` (fixture cases and held-out draws).
"""

from __future__ import annotations

import pathlib

from diffmem.models.family import Family

from .config import MODELS, SPEC_VERSION, StackConfig
from .layout import param_shapes, split_interface, trace_entries, trace_shapes
from .params import REGIMES, init_params
from .reference import run_batch

SPEC = (str(pathlib.Path(__file__).resolve().parent / "spec" / "STACKS.md"),)


def batched(xp, cfg):
    from .batched import BatchedStack
    return BatchedStack(xp, cfg)


def cases():
    from .cases import cases as _cases
    return _cases()


def heldout(seed, index):
    from .cases import heldout as _heldout
    return _heldout(seed, index)


def bugs():
    from .bugs import bugs as _bugs   # lazily: the catalogue imports nothing heavy, but
    return _bugs()                    # its users often bring torch


def summary(cfg):
    from .cases import summary as _summary
    return _summary(cfg)


FAMILY = Family(
    name="stack",
    spec_version=SPEC_VERSION,
    models=MODELS,
    spec=SPEC,
    config_from_dict=StackConfig.from_dict,
    param_shapes=param_shapes,
    init_params=init_params,
    regimes=REGIMES,
    trace_entries=trace_entries,
    trace_shapes=trace_shapes,
    run_reference=run_batch,
    batched=batched,
    cases=cases,
    heldout=heldout,
    bugs=bugs,
    summary=summary,
)

__all__ = ["FAMILY", "SPEC_VERSION", "StackConfig", "param_shapes", "split_interface",
           "trace_entries", "trace_shapes", "REGIMES", "init_params", "run_batch"]
