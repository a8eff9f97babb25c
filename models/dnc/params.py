"""Deterministic parameter initialisation from a seed, in named regimes (DNC.md's
fixture catalogue).

- ``init``: Xavier-uniform weights, biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as in
  torch.nn.Linear, and the paper's initial state: ``init.memory`` = 0, ``init.read`` = 0
  (DNC.md's tie 2: every first write's content weighting is exactly 1/N).
- ``state``: ``init`` with ``init.memory`` and ``init.read`` drawn U(-0.5, 0.5) (tie 1
  only; soft everything).
- ``dup``: ``state``, then ``init.memory`` row 5 set equal to row 2 (N >= 6): DNC.md's
  tie 3, a 2-way usage tie at t = 1 between rows 2 and 5.
- ``free``: random ``init.memory`` (as ``state``); every free gate exactly 1 (weights 0,
  bias +1000), every read mode exactly content (weights 0, biases (0, +1000, 0)) and
  every read strength beta = 1 + softplus(1e4) (weights 0, bias 1e4), so a read weighting
  is exactly one-hot wherever the best cosine beats the others by >= 0.1, and the row it
  reads is freed to usage exactly 0 (tie 4).
- ``full``: random ``init.memory``; write and allocation gates exactly 1, free gates
  exactly 0 (weights 0, biases +-1000): ww_t = a_t = e_row, usages exactly 0 or 1 (tie 5).
- ``sharp``: random ``init.memory``; every gate (free gates, allocation gate, write gate)
  and every head's read mode a switch (tie 6): its interface row reads one saturated
  controller unit alone with weight +-1e7 (the stack family's ``make_switch`` /
  ``saturate_unit``); a head's three mode rows read two such units, z = 1e7 (c_k + c_l,
  c_k - c_l, -c_k), so exactly one mode wins by >= 5e6 (or two tie exactly at c_l = 0: an
  LSTM unit whose output gate is 0 reads exactly 0, and the halves are exact too).
- ``extreme_logits``: ``init`` with the output layer scaled by 100: |y| > 50 (the loss's
  stable softplus and logsumexp).

A *switch* is |z| >= 1000: sigmoid exactly 0 or 1 in every form, float32 included, and
its derivative exactly 0 (stack/1's README explains why merely large pre-activations are
not enough).  The write key, strength, erase and vector stay soft in every regime.
"""

import numpy as np

from diffmem.models.stack.params import make_switch, saturate_unit

from .config import DNCConfig
from .layout import field_range, param_shapes

REGIMES = ("init", "state", "dup", "free", "full", "sharp", "extreme_logits")
SATURATED = 1000.0        # sigmoid(+-1000) is exactly 1 / 0 in every form, float32 included
FREE_READ_STRENGTH = 1e4  # beta = 1 + softplus(1e4): a cosine gap of 0.1 underflows exp
MODE_WEIGHT = 1e7
DUP_ROWS = (2, 5)         # DNC.md's tie 3


def _rows(cfg, name):
    start, stop = field_range(cfg, name)
    return list(range(start, stop))


def _constant(params, rows, value):
    """Interface rows that read no controller unit: the field is ``value`` at every step."""
    for row in rows:
        params["interface.weight"][row] = 0.0
        params["interface.bias"][row] = value


def init_params(cfg: DNCConfig, seed: int, regime: str = "init") -> dict:
    """float64 parameters, a pure function of (cfg, seed, regime)."""
    if regime not in REGIMES:
        raise ValueError(f"regime: expected one of {REGIMES}, got {regime!r}")
    if regime == "dup" and cfg.N <= max(DUP_ROWS):
        raise ValueError(f"regime 'dup': duplicates init.memory rows {DUP_ROWS}, needs "
                         f"memory_rows >= {max(DUP_ROWS) + 1}, got {cfg.N}")
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
        else:   # init.memory, init.read: drawn always (one stream for every regime)
            params[name] = rng.uniform(-0.5, 0.5, size=shape)
    if regime in ("init", "extreme_logits"):
        params["init.memory"][:] = 0.0
        params["init.read"][:] = 0.0
    if regime == "extreme_logits":
        params["output.weight"] *= 100.0
        params["output.bias"] *= 100.0
    elif regime == "dup":
        params["init.memory"][DUP_ROWS[1]] = params["init.memory"][DUP_ROWS[0]]
    elif regime == "free":
        _constant(params, _rows(cfg, "free_gate"), SATURATED)
        _constant(params, _rows(cfg, "read.strength"), FREE_READ_STRENGTH)
        modes = _rows(cfg, "read.mode")
        for h in range(cfg.R):
            _constant(params, modes[3 * h:3 * h + 3], 0.0)
            params["interface.bias"][modes[3 * h + 1]] = SATURATED
    elif regime == "full":
        _constant(params, _rows(cfg, "write_gate") + _rows(cfg, "allocation_gate"), SATURATED)
        _constant(params, _rows(cfg, "free_gate"), -SATURATED)
    elif regime == "sharp":
        units = set()
        for row in _rows(cfg, "free_gate") + _rows(cfg, "allocation_gate") + \
                _rows(cfg, "write_gate"):
            units.add(make_switch(params, cfg, row, rng))
        modes = _rows(cfg, "read.mode")
        for h in range(cfg.R):
            units |= _mode_switch(params, cfg, modes[3 * h:3 * h + 3], rng)
        for k in sorted(units):
            saturate_unit(params, cfg, k)
    return params


def _mode_switch(params, cfg, rows, rng) -> set:
    """A head's (backward, content, forward) rows read units k and l (random, distinct
    when H > 1): z = 1e7 (c_k + c_l, c_k - c_l, -c_k), one-hot for c = +-1."""
    k, l = (int(v) for v in rng.choice(cfg.H, size=2, replace=cfg.H < 2))
    weight, bias = params["interface.weight"], params["interface.bias"]
    for row, (a, b) in zip(rows, ((1.0, 1.0), (1.0, -1.0), (-1.0, 0.0))):
        weight[row] = 0.0
        weight[row, k] += a * MODE_WEIGHT
        weight[row, l] += b * MODE_WEIGHT
        bias[row] = 0.0
    return {k, l}
