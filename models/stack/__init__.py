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

from . import cases, tasks, training
from .batched import BatchedStack
from .config import MODELS, SPEC_VERSION, StackConfig
from .layout import param_shapes, split_interface, trace_entries, trace_shapes
from .params import REGIMES, init_params
from .reference import run_batch

SPEC = (str(pathlib.Path(__file__).resolve().parent / "spec" / "STACKS.md"),)


# Lazy: the bug catalogue imports torch (each bug is usable as a torch backend).


def _bugs():
    from .bugs import bugs
    return bugs()


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
    batched=BatchedStack,
    cases=cases.cases,
    heldout=cases.heldout,
    bugs=_bugs,
    summary=cases.summary,
    tasks=tasks,
    training=training,
)

__all__ = ["FAMILY", "SPEC_VERSION", "StackConfig", "param_shapes", "split_interface",
           "trace_entries", "trace_shapes", "REGIMES", "init_params", "run_batch"]
