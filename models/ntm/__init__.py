"""The Neural Turing Machine (Graves et al. 2014), spec ``ntm/1``: the first family.

Everything NTM-specific is in this folder: ``spec/`` (NTM.md, TASKS.md), ``reference/``
(the frozen numpy/autograd oracle), ``batched.py`` (the batched form over an ops table,
which the bundled torch and JAX drivers run), ``cases.py`` (the golden fixture cases),
``heldout.py`` (random cases of every check), ``calibration.py``, ``bugs.py`` (the kernel
bug catalogue), ``variants.py`` (correct rewrites that must pass) and ``tasks/``.
"""

import pathlib

from diffmem.models.family import Family

from . import calibration, cases, heldout, tasks, training
from .batched import BatchedNTM
from .reference import (REGIMES, SPEC_VERSION, NTMConfig, init_params, param_shapes, run_batch,
                        trace_entries, trace_shapes)

_HERE = pathlib.Path(__file__).resolve().parent


def _bugs():
    from .bugs import BUGS   # imports torch (each bug is usable as a torch backend)
    return BUGS


def _variants():
    from .variants import VARIANTS
    return VARIANTS


FAMILY = Family(
    name="ntm",
    spec_version=SPEC_VERSION,
    models=("ntm",),
    spec=(_HERE / "spec" / "NTM.md", _HERE / "spec" / "TASKS.md"),
    config_from_dict=NTMConfig.from_dict,
    param_shapes=param_shapes,
    init_params=init_params,
    regimes=REGIMES,
    trace_entries=trace_entries,
    trace_shapes=trace_shapes,
    run_reference=run_batch,
    batched=BatchedNTM,
    cases=cases.cases,
    heldout=heldout.heldout,
    bugs=_bugs,
    summary=cases.summary,
    variants=_variants,
    calibration=calibration,
    tasks=tasks,
    training=training,
)
