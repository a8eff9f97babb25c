"""The models the harness knows, each described by its reference.

The harness is model-generic: everything NTM-specific reaches it through a
``ModelSpec``.  Stack, queue and DNC models are added here with their own reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from diffmem import reference as ntm


@dataclass(frozen=True)
class ModelSpec:
    name: str                   # the config's ``model`` field
    spec_version: str           # e.g. "ntm/1"; fixtures of another version are refused
    config_from_dict: Callable  # dict -> frozen config (validates)
    param_shapes: Callable      # config -> {name: shape}
    trace_entries: Callable     # config -> [TraceEntry(name, stage, heads)] in stage order
    run_reference: Callable     # (config, params, inputs, targets, mask, *, dtype,
                                #  want_trace, want_grads) -> dict like a backend Result
    trace_shapes: Callable = None  # config -> {trace name: per-step shape (no B, T)}


MODELS = {
    "ntm": ModelSpec(
        name="ntm",
        spec_version=ntm.SPEC_VERSION,
        config_from_dict=ntm.NTMConfig.from_dict,
        param_shapes=ntm.param_shapes,
        trace_entries=ntm.trace_entries,
        run_reference=ntm.run_batch,
        trace_shapes=ntm.trace_shapes,
    ),
}


def model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"model {name!r}: unknown to this diffmem (known: {sorted(MODELS)})")
    return MODELS[name]
