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
from diffmem.models.hooks import TaskSet

from . import cases, layout, params, reference, tasks
from .batched import BatchedStack
from .config import MODELS, SPEC_VERSION, StackConfig
from .layout import param_shapes, split_interface, trace_entries, trace_shapes
from .params import REGIMES, init_params
from .reference import run_batch
from .training import TRAINING

SPEC = (str(pathlib.Path(__file__).resolve().parent / "spec" / "STACKS.md"),)


class StackFamily(Family):
    name = "stack"
    spec_version = SPEC_VERSION
    models = MODELS
    spec = SPEC
    config_class = StackConfig
    regimes = REGIMES
    batched = BatchedStack
    training = TRAINING
    tasks = TaskSet(tasks.TASKS, tasks.KNOBS, tasks.task_sizes, tasks.make_batch)

    def param_shapes(self, cfg):
        return layout.param_shapes(cfg)

    def init_params(self, cfg, seed, regime):
        return params.init_params(cfg, seed, regime)

    def trace_entries(self, cfg):
        return layout.trace_entries(cfg)

    def trace_shapes(self, cfg, steps):
        return layout.trace_shapes(cfg, steps)

    def run_reference(self, cfg, params, inputs, targets, mask, **options):
        return reference.run_batch(cfg, params, inputs, targets, mask, **options)

    def summary(self, cfg):
        return cases.summary(cfg)

    fuzz_axes = cases.FUZZ_AXES

    def fuzz_case(self, seed, sizes):
        return cases.fuzz_case(seed, sizes)

    def sizes(self, cfg, steps):
        return {"rows": steps * cfg.ends}

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


FAMILY = StackFamily()

__all__ = ["FAMILY", "SPEC_VERSION", "StackConfig", "param_shapes", "split_interface",
           "trace_entries", "trace_shapes", "REGIMES", "init_params", "run_batch"]
