"""Deterministic parameter initialisation from a seed, in named regimes.

Regimes (recorded by every fixture):
- ``init``: Xavier-uniform weights, biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as in
  torch.nn.Linear, init.memory and init.read U(-0.5, 0.5), initial weight logits N(0, 1).
- ``sharp``: ``init``, then the interface biases set so that attention is near one-hot:
  beta ~ 20, gamma ~ 11, one preferred shift per head, and initial weight logits x 5.
- ``extreme_logits``: ``init`` with the output layer scaled by 100, so |y| > 50 is
  common (exercises the stable softplus and sigmoid of the loss).
"""

import numpy as np

from .config import NTMConfig
from .layout import head_fields, head_size, param_shapes

REGIMES = ("init", "sharp", "extreme_logits")


def interface_offsets(cfg: NTMConfig, field: str) -> dict:
    """Field -> list of (head kind, head index, start) offsets into the interface."""
    out, start = [], 0
    for kind, heads in (("write", cfg.Wh), ("read", cfg.R)):
        for h in range(heads):
            offset = start
            for name, width in head_fields(cfg, kind):
                if name == field:
                    out.append((kind, h, offset))
                offset += width
            start += head_size(cfg, kind)
    return out


def init_params(cfg: NTMConfig, seed: int, regime: str = "init") -> dict:
    """float64 parameters, a pure function of (cfg, seed, regime)."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith(".weight"):
            fan_out, fan_in = shape
            a = np.sqrt(6.0 / (fan_in + fan_out))
            params[name] = rng.uniform(-a, a, size=shape)
        elif name.endswith(".bias"):
            fan_in = param_shapes(cfg)[name[:-len("bias")] + "weight"][1]
            params[name] = rng.uniform(-1, 1, size=shape) / np.sqrt(fan_in)
        elif name in ("init.memory", "init.read"):
            params[name] = rng.uniform(-0.5, 0.5, size=shape)
        else:
            params[name] = rng.standard_normal(shape)
    if regime == "sharp":
        bias = params["interface.bias"]
        for _, _, i in interface_offsets(cfg, "beta"):
            bias[i] = 20.0
        for _, _, i in interface_offsets(cfg, "gamma"):
            bias[i] = 10.0
        for _, _, i in interface_offsets(cfg, "shift"):
            bias[i + rng.integers(cfg.S)] += 4.0
        params["init.read_logits"] *= 5.0
        params["init.write_logits"] *= 5.0
    elif regime == "extreme_logits":
        params["output.weight"] *= 100.0
        params["output.bias"] *= 100.0
    return params
