"""The frozen NTM reference (spec ``ntm/1``): numpy, float64, gradients by autograd.

Read in this order, which is the spec's: ``config`` (sizes), ``layout`` (parameter
names, interface slicing, trace names), ``functions`` (stable sigmoid, softplus,
softmax), ``controller``, ``heads``, ``addressing``, ``memory``, ``model`` (one step,
the loop over time), ``loss``, ``params`` (seeded initialisation), ``run`` (values,
trace and gradients for a sequence or a batch).
"""

from .config import SPEC_VERSION, NTMConfig
from .layout import (interface_size, param_shapes, split_interface, trace_entries,
                     trace_shapes, validate_data, validate_params)
from .params import REGIMES, init_params
from .run import run_batch, run_sequence

__all__ = ["SPEC_VERSION", "NTMConfig", "interface_size", "param_shapes", "split_interface",
           "trace_entries", "trace_shapes", "validate_data", "validate_params", "REGIMES",
           "init_params", "run_batch", "run_sequence"]
