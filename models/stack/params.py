"""Deterministic parameter initialisation from a seed, in named regimes (STACKS.md Part 1).

- ``init``: Xavier-uniform weights, biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as in
  torch.nn.Linear, init.read U(-0.5, 0.5), and the paper's pop bias -1 (every pop field).
- ``sharp``: ``init``, then every push and pop is a *switch*: its interface row reads
  one controller unit alone, with weight +-1e7, and that unit's controller rows are
  scaled by 1e9, so the unit sits at exactly +-1 (tanh saturated; LSTM: its gates at
  exactly 0 or 1 in every sigmoid form, even 1 / (1 + exp(-z)), which needs |z| > 745;
  its cell an integer, c = 0 or +-tanh(n)) and the pre-activation is 0 or beyond +-7e6:
  push and pop are exactly 0, 0.5 or 1, switching from step to step with the input.
  Strengths and budgets are then multiples of 0.5, exact in every order of summation and
  in float32, so the exact ties (rows popped to exactly 0, a budget of exactly 0,
  min(s, budget) with s == budget) are the same in every correct implementation.
- ``half``: ``sharp``'s pops, and every push pre-activation exactly 0 (its interface rows
  and biases zero): d = sigmoid(0) = 0.5 exactly at every step.
- ``full``: ``sharp``'s pops, and every push exactly 1 (weights 0, bias +1000): the top
  row always has strength 1, so the budget below it is exactly 0.

Why switches and not merely large weights: a pre-activation between ~30 and ~750 in size
gives a sigmoid within an ulp or so of 0 or 1 (e.g. 5.6e-17) whose last bits differ
between implementations (tanh form, 1 / (1 + exp(-z))); 0.5 - 5.6e-17 then rounds to
0.5 or to 0.49999999999999994, sums of strengths land on 1 or just below, and a tie
(where the gradient jumps by O(1)) is met in one implementation and missed in another.
A switch's pre-activation is never in that window (except with probability ~1e-6 per
step: its unit's unscaled pre-activation would have to lie within ~1e-6 of 0).
"""

import numpy as np

from .config import StackConfig
from .layout import interface_fields, param_shapes

REGIMES = ("init", "sharp", "half", "full")
PAPER_POP_BIAS = -1.0
SWITCH_WEIGHT = 1e7       # interface weight of a switch on its unit (|z| >= 7e6 unless c = 0)
UNIT_SCALE = 1e9          # a switch unit's controller rows: gates exactly 0 / 1, tanh +-1
SATURATED_BIAS = 1000.0   # sigmoid(1000) == 1.0 exactly in every form, float32 included


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
    switches = field_rows(cfg, "pop") + (field_rows(cfg, "push") if regime == "sharp" else [])
    units = {make_switch(params, cfg, row, rng) for row in switches}
    for k in sorted(units):
        saturate_unit(params, cfg, k)
    for row in field_rows(cfg, "push"):
        if regime == "half":
            weight[row], bias[row] = 0.0, 0.0
        elif regime == "full":
            weight[row], bias[row] = 0.0, SATURATED_BIAS
    return params


def make_switch(params, cfg: StackConfig, row: int, rng) -> int:
    """Interface row ``row`` reads one controller unit k (random) alone, with weight
    +-1e7 and bias 0; returns k."""
    k = int(rng.integers(cfg.H))
    params["interface.weight"][row] = 0.0
    params["interface.weight"][row, k] = SWITCH_WEIGHT * rng.choice([-1.0, 1.0])
    params["interface.bias"][row] = 0.0
    return k


def saturate_unit(params, cfg: StackConfig, k: int):
    """Controller unit k's rows (LSTM: its i, f, g, o rows) scaled by 1e9."""
    for gate in range(4 if cfg.controller == "lstm" else 1):
        params["controller.weight"][gate * cfg.H + k] *= UNIT_SCALE
        params["controller.bias"][gate * cfg.H + k] *= UNIT_SCALE
