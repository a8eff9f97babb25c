"""The Stack-RNN family (spec ``stackrnn/1``: STACKS.md Part 2; Joulin & Mikolov 2015).

config.py (StackRNNConfig), layout.py (parameters, trace, stages, validation),
reference.py (the frozen numpy/autograd reference), params.py (init_params, REGIMES),
batched.py (BatchedStackRNN over an ops table), bugs.py (the bug catalogue), cases.py
(fixture cases, held-out draws, summary).  The spec file is shared with the ``stack``
family: ``models/stack/spec/STACKS.md``.
"""

from __future__ import annotations

import pathlib

from diffmem.models.family import Family
from diffmem.models.hooks import TaskSet

from . import cases, layout, params, reference, tasks
from .batched import BatchedStackRNN
from .config import SPEC_VERSION, StackRNNConfig
from .training import TRAINING

SPEC = (pathlib.Path(__file__).resolve().parent / ".." / "stack" / "spec" / "STACKS.md",)


class StackRNNFamily(Family):
    name = "stackrnn"
    spec_version = SPEC_VERSION
    models = ("stackrnn",)
    spec = SPEC
    config_class = StackRNNConfig
    regimes = params.REGIMES
    batched = BatchedStackRNN
    # The reference runs float64 and float32; the emulated low-precision modes are the
    # NTM's and the stack's, not (yet) the Stack-RNN's.
    dtypes = ("float64", "float32")
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
        return {"rows": cfg.D, "heads": (cfg.K,)}

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


FAMILY = StackRNNFamily()

__all__ = ["FAMILY", "SPEC_VERSION", "StackRNNConfig"]
