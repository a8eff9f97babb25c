"""The stack family's cases for ``diffmem gradcheck`` (engine: ``diffmem.reference.gradcheck``).

Away from the ties of the pop and read budgets' min/max: smooth random weights, with the
pop bias raised from the paper's -1 to 0.5 so that pops do something and the pop and read
budgets are exercised."""

from __future__ import annotations

from functools import partial

import numpy as np

from diffmem.reference.gradcheck import GradcheckCase

from .config import StackConfig
from .layout import interface_fields
from .params import init_params


def case_data(model, controller, loss, seed=11, B=2, T=5):
    cfg = StackConfig(3, 4, controller_size=5, value_size=2, controller=controller,
                      loss=loss, model=model)
    params = init_params(cfg, seed, "init")
    pops = [s for n, s, _ in interface_fields(cfg) if n.startswith("pop")]
    params["interface.bias"][pops] = 0.5
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((B, T, cfg.X))
    if loss == "bce":
        y = (rng.uniform(size=(B, T, cfg.Y)) < 0.5).astype(float)
    else:
        y = np.eye(cfg.Y)[rng.integers(cfg.Y, size=(B, T))]
    m = np.ones((B, T))
    m[-1, T - 2:] = 0.0
    return cfg, params, x, y, m


CASES = tuple(GradcheckCase(f"{model}-{'lstm' if controller == 'lstm' else 'ff'}-{loss}",
                            partial(case_data, model, controller, loss))
              for model, controller, loss in (("stack", "feedforward", "bce"),
                                              ("queue", "lstm", "softmax"),
                                              ("deque", "feedforward", "softmax"),
                                              ("deque", "lstm", "bce")))
