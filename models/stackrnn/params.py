"""Deterministic parameter initialisation from a seed, in named regimes.

- ``init``: matrices U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (Xavier uniform, the
  per-stack blocks of P, A and D each as their own matrix), biases U(-0.1, 0.1).
- ``sharp``: ``init`` with A and bias.action x 10 and D and bias.push x 10 (plus
  bias.action +-3): the action softmax is near one-hot and push values near 0 or 1.
- ``clipped``: ``init`` with D x 40 and bias.push set to +-60: the push pre-activation
  leaves [-50, 50] at many steps, so the clip (and its zero gradient) is active.
"""

import numpy as np

from .config import StackRNNConfig
from .layout import param_shapes

REGIMES = ("init", "sharp", "clipped")


def init_params(cfg: StackRNNConfig, seed: int, regime: str = "init") -> dict:
    """float64 parameters, a pure function of (cfg, seed, regime)."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.startswith("bias."):
            params[name] = rng.uniform(-0.1, 0.1, size=shape)
        else:
            # D's rows are one [1, H] matrix per stack.
            fan_out, fan_in = (1, shape[-1]) if name == "D" else shape[-2:]
            a = np.sqrt(6.0 / (fan_in + fan_out))
            params[name] = rng.uniform(-a, a, size=shape)
    if regime == "sharp":
        params["A"] *= 10.0
        params["bias.action"] = 10.0 * params["bias.action"] \
            + rng.choice([-3.0, 3.0], size=params["bias.action"].shape)
        params["D"] *= 10.0
        params["bias.push"] *= 10.0
    elif regime == "clipped":
        params["D"] *= 40.0
        params["bias.push"] = rng.choice([-60.0, 60.0], size=params["bias.push"].shape)
    return params
