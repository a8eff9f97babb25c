"""The NTM's cases for ``diffmem gradcheck`` (the engine: ``diffmem.reference.gradcheck``).

Step h: 1e-4, except 1e-6 in the sharp regime, where gamma ~ 11 raises weights to the
11th power and the loss bends on a scale of 1e-4 (h = 1e-4 there is off by O(1)).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from diffmem.reference.gradcheck import STEP, GradcheckCase

from .config import NTMConfig
from .params import init_params

SHARP_STEP = 1e-6    # in the sharp regime (see above)


def case_data(config: dict, regime: str, T: int, seed: int):
    """(cfg, params, inputs, targets, mask) of one case, batch of one: real-valued inputs,
    soft targets in [0, 1], and a mask with a zero and a non-unit weight (both allowed by
    NTM.md)."""
    cfg = NTMConfig(**config)
    params = init_params(cfg, seed, regime)
    rng = np.random.default_rng(seed + 1)
    inputs = rng.standard_normal((1, T, cfg.X))
    targets = rng.uniform(0.0, 1.0, (1, T, cfg.Y))
    mask = np.ones((1, T))
    mask[0, 0] = 0.0
    mask[0, -1] = 2.0
    return cfg, params, inputs, targets, mask


def _case(name, regime="init", T=5, seed=0, **config):
    base = dict(input_size=3, output_size=2, controller_size=5, memory_rows=5,
                memory_width=3)
    return GradcheckCase(name, partial(case_data, {**base, **config}, regime, T, seed),
                         regime, SHARP_STEP if regime == "sharp" else STEP, seed)


WIDE = (-2, -1, 0, 1, 2)

# The spread a self-check needs: both controllers; 1 and 2 heads of each kind; a shift
# set wider than {-1, 0, 1}; N = 1 and N = 2 (offsets that wrap onto the same row add);
# the sharp regime (near one-hot attention) and extreme output logits.
CASES = (
    _case("ff", controller="feedforward"),
    _case("lstm", controller="lstm"),
    _case("ff-2r2w-wide", controller="feedforward", read_heads=2, write_heads=2, shifts=WIDE),
    _case("lstm-2r2w-wide", controller="lstm", read_heads=2, write_heads=2, shifts=WIDE,
          memory_rows=4),
    _case("ff-1r2w", controller="feedforward", write_heads=2, memory_rows=4),
    _case("lstm-2r1w", controller="lstm", read_heads=2, memory_rows=4),
    _case("ff-N1", controller="feedforward", memory_rows=1),
    _case("lstm-N1-wide", controller="lstm", memory_rows=1, shifts=WIDE),
    _case("ff-N2-wide", controller="feedforward", memory_rows=2, shifts=WIDE, read_heads=2),
    _case("lstm-N2", controller="lstm", memory_rows=2, write_heads=2),
    _case("ff-sharp", "sharp", controller="feedforward", memory_rows=6),
    _case("lstm-sharp-2r2w-wide", "sharp", controller="lstm", read_heads=2, write_heads=2,
          shifts=WIDE, memory_rows=6),
    _case("ff-extreme-logits", "extreme_logits", controller="feedforward"),
    # M = 1 and S = 1: a key, erase, add or shift of width 1 is still a vector per head.
    _case("ff-M1-S1", controller="feedforward", memory_width=1, shifts=(1,), write_heads=2),
)
