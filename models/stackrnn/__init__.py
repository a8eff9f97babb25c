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

from . import tasks, training
from .batched import BatchedStackRNN
from .config import SPEC_VERSION, StackRNNConfig
from .layout import param_shapes, trace_entries, trace_shapes
from .params import REGIMES, init_params
from .reference import run_batch

SPEC = (pathlib.Path(__file__).resolve().parent / ".." / "stack" / "spec" / "STACKS.md",)


def run_reference(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
                  want_grads=True):
    return run_batch(cfg, params, inputs, targets, mask, dtype=dtype, want_trace=want_trace,
                     want_grads=want_grads)


def _cases():
    from .cases import cases
    return cases()


def _heldout(seed, index):
    from .cases import heldout
    return heldout(seed, index)


def _bugs():
    from .bugs import bugs   # imports nothing of torch itself, but kept lazy like the rest
    return bugs()


def _summary(cfg):
    from .cases import summary
    return summary(cfg)


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
    run_reference=run_reference,
    batched=BatchedStackRNN,
    # The reference runs float64 and float32; the emulated low-precision modes are the
    # NTM's and the stack's, not (yet) the Stack-RNN's.
    dtypes=("float64", "float32"),
    cases=_cases,
    heldout=_heldout,
    bugs=_bugs,
    summary=_summary,
    tasks=tasks,
    training=training,
)

__all__ = ["FAMILY", "SPEC_VERSION", "StackRNNConfig"]
