"""The Neural Turing Machine (Graves et al. 2014), spec ``ntm/1``: the first family.

Everything NTM-specific is in this folder: ``spec/`` (NTM.md, TASKS.md), ``reference/``
(the frozen numpy/autograd oracle), ``batched.py`` (the batched form over an ops table,
which the bundled torch and JAX drivers run), ``cases.py`` (the golden fixture cases),
``heldout.py`` (random cases of every check), ``calibration.py``, ``bugs.py`` (the kernel
bug catalogue), ``variants.py`` (correct rewrites that must pass) and ``tasks/``.
"""

import pathlib

from diffmem.models.family import Family
from diffmem.models.hooks import TaskSet

from . import cases, heldout, reference, tasks
from .batched import BatchedNTM
from .calibration import CALIBRATION
from .training import TRAINING

_HERE = pathlib.Path(__file__).resolve().parent


class NTMFamily(Family):
    name = "ntm"
    spec_version = reference.SPEC_VERSION
    models = ("ntm",)
    spec = (_HERE / "spec" / "NTM.md", _HERE / "spec" / "TASKS.md")
    config_class = reference.NTMConfig
    regimes = reference.REGIMES
    batched = BatchedNTM
    training = TRAINING
    calibration = CALIBRATION
    tasks = TaskSet(tasks.TASKS, tasks.KNOBS, tasks.task_sizes, tasks.make_batch)

    def param_shapes(self, cfg):
        return reference.param_shapes(cfg)

    def init_params(self, cfg, seed, regime):
        return reference.init_params(cfg, seed, regime)

    def trace_entries(self, cfg):
        return reference.trace_entries(cfg)

    def trace_shapes(self, cfg, steps):
        return reference.trace_shapes(cfg, steps)

    def run_reference(self, cfg, params, inputs, targets, mask, **options):
        return reference.run_batch(cfg, params, inputs, targets, mask, **options)

    def summary(self, cfg):
        return cases.summary(cfg)

    fuzz_axes = heldout.FUZZ_AXES

    def fuzz_case(self, seed, sizes):
        return heldout.fuzz_case(seed, sizes)

    def sizes(self, cfg, steps):
        return {"rows": cfg.N, "heads": (cfg.R, cfg.Wh)}

    def cases(self):
        return cases.cases()

    def heldout(self, seed, index):
        return heldout.heldout(seed, index)

    def bugs(self):
        from .bugs import BUGS
        return BUGS

    def gradcheck_cases(self):
        from .reference.gradcheck import CASES
        return CASES

    def variants(self):
        from .variants import VARIANTS
        return VARIANTS


FAMILY = NTMFamily()
