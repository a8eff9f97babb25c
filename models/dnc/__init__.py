"""The Differentiable Neural Computer (Graves et al. 2016, Nature 538) as a diffmem model
family: spec ``dnc/1`` (``spec/DNC.md``), the paper's Methods with NTM.md's controller,
cosine and losses.

Read in this order: ``config`` (sizes), ``layout`` (parameter names, the interface's
layout, trace names and stages), ``reference`` (the frozen numpy/autograd oracle),
``params`` (seeded regimes), ``batched`` (the batched form over an ops table), ``bugs``
(the kernel-bug catalogue), ``cases`` (fixture cases, their exact-tie promises, the
admission rule against near-ties, held-out draws), ``gradcheck`` (``diffmem gradcheck``'s
cases), ``tasks`` (the NTM's tasks and the paper's serial copy).  The folder's README says what dnc/1 chose where the spec is
silent.
"""

from __future__ import annotations

import pathlib

from diffmem.models.family import Family
from diffmem.models.hooks import TaskSet

from . import cases, layout, params, reference, tasks
from .batched import BatchedDNC
from .config import MODELS, SPEC_VERSION, DNCConfig
from .training import TRAINING

SPEC = (str(pathlib.Path(__file__).resolve().parent / "spec" / "DNC.md"),)


class DNCFamily(Family):
    name = "dnc"
    spec_version = SPEC_VERSION
    models = MODELS
    spec = SPEC
    config_class = DNCConfig
    regimes = params.REGIMES
    batched = BatchedDNC
    # float64, float32 and the emulated low-precision modes, each run sorting its own
    # usages; in a mode, what follows a near-tie the emulated run cannot resolve is held
    # to the noise bound only (``noise_from``).
    dtypes = reference.DTYPES
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

    def cases(self):
        return cases.cases()

    def sizes(self, cfg, steps):
        return {"rows": cfg.N, "heads": (cfg.R,)}

    def heldout(self, seed, index):
        return cases.heldout(seed, index)

    def noise_from(self, case, dtype):
        return cases.noise_from(case, dtype)

    def gradcheck_cases(self):
        from .gradcheck import CASES
        return CASES

    def bugs(self):
        from .bugs import bugs
        return bugs()


FAMILY = DNCFamily()

__all__ = ["FAMILY", "SPEC_VERSION", "DNCConfig"]
