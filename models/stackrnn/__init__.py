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

from . import cases, tasks, training
from .batched import BatchedStackRNN
from .config import SPEC_VERSION, StackRNNConfig
from .layout import param_shapes, trace_entries, trace_shapes
from .params import REGIMES, init_params
from .reference import run_batch

SPEC = (pathlib.Path(__file__).resolve().parent / ".." / "stack" / "spec" / "STACKS.md",)


def _bugs():
    from .bugs import bugs   # imports torch: each bug is usable as a torch backend
    return bugs()


FAMILY = Family(
    name="stackrnn",
    spec_version=SPEC_VERSION,
    models=("stackrnn",),
    spec=SPEC,
    config_from_dict=StackRNNConfig.from_dict,
    param_shapes=param_shapes,
    init_params=init_params,
    regimes=REGIMES,
    trace_entries=trace_entries,
    trace_shapes=trace_shapes,
    run_reference=run_batch,
    batched=BatchedStackRNN,
    # The reference runs float64 and float32; the emulated low-precision modes are the
    # NTM's and the stack's, not (yet) the Stack-RNN's.
    dtypes=("float64", "float32"),
    cases=cases.cases,
    heldout=cases.heldout,
    bugs=_bugs,
    summary=cases.summary,
    tasks=tasks,
    training=training,
)

__all__ = ["FAMILY", "SPEC_VERSION", "StackRNNConfig"]
