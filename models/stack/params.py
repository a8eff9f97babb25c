"""Deterministic parameter initialisation from a seed, in named regimes (STACKS.md Part 1).

- ``init``: Xavier-uniform weights, biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as in
  torch.nn.Linear, init.read U(-0.5, 0.5), and the paper's pop bias -1 (every pop field).
- ``sharp``: ``init``, then the push and pop rows of the interface scaled so that their
  pre-activations are mostly beyond +-40, where sigmoid is exactly 1.0 or 0.0 in float64,
  with the sign changing from step to step through the weights (biases 0): exact ties of
  every kind (saturated push / pop, rows popped to exactly 0, a read budget of exactly 0).
- ``half``: ``sharp``'s pops, and every push pre-activation exactly 0 (its interface rows
  and biases zero), so d = sigmoid(0) = 0.5 exactly at every step: sums of strengths are
  exact multiples of 0.5, and the read's min(s, budget) meets s == budget exactly.
- ``full``: ``sharp``'s pops, and every push saturated at exactly 1.0 (weights 0, bias
  +50): the top row always has strength 1, so the budget below it is exactly 0.
"""

import numpy as np

from .config import StackConfig
from .layout import interface_fields, param_shapes

REGIMES = ("init", "sharp", "half", "full")
SATURATION_SCALE = 300.0   # interface weight scale of the saturated fields
PAPER_POP_BIAS = -1.0


def field_rows(cfg: StackConfig, prefix: str) -> list:
    """Interface rows of the scalar fields whose name starts with ``prefix`` (push, pop)."""
    return [start for name, start, _ in interface_fields(cfg) if name.startswith(prefix)]


def init_params(cfg: StackConfig, seed: int, regime: str = "init") -> dict:
    """float64 parameters, a pure function of (cfg, seed, regime)."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    rng = np.random.default_rng(seed)
    shapes = param_shapes(cfg)
    params = {}
    for name, shape in shapes.items():
        if name.endswith(".weight"):
            fan_out, fan_in = shape
            a = np.sqrt(6.0 / (fan_in + fan_out))
            params[name] = rng.uniform(-a, a, size=shape)
        elif name.endswith(".bias"):
            fan_in = shapes[name[:-len("bias")] + "weight"][1]
            params[name] = rng.uniform(-1, 1, size=shape) / np.sqrt(fan_in)
        else:
            params[name] = rng.uniform(-0.5, 0.5, size=shape)
    weight, bias = params["interface.weight"], params["interface.bias"]
    for row in field_rows(cfg, "pop"):
        bias[row] = PAPER_POP_BIAS
    if regime == "init":
        return params
    for row in field_rows(cfg, "push") + field_rows(cfg, "pop"):
        weight[row] = SATURATION_SCALE * rng.standard_normal(cfg.H)
        bias[row] = 0.0
    if regime == "half":
        for row in field_rows(cfg, "push"):
            weight[row], bias[row] = 0.0, 0.0
    elif regime == "full":
        for row in field_rows(cfg, "push"):
            weight[row], bias[row] = 0.0, 50.0
    return params
