"""The DNC's cases for ``diffmem gradcheck`` (engine: ``diffmem.reference.gradcheck``).

Away from ties: random ``init.memory`` and ``init.read`` (the ``state`` regime), so that
after step 0's exact zero tie (which no perturbation moves: u_0 = 0 in every row, whatever
the parameters) the usages are distinct, their gaps far wider than what the difference
steps move them by, and the free list stays put (DNC.md: a_t is discontinuous where phi_t
changes).  The zero state is not used: its (N-1)-way tie at t = 1 is broken by any
perturbation of ``init.memory``.  The hand-worked tie cases are in
tests/models/dnc/test_dnc_reference.py."""

from __future__ import annotations

from functools import partial

import numpy as np

from diffmem.reference.gradcheck import GradcheckCase

from .config import DNCConfig
from .params import init_params


def case_data(controller, loss, heads, seed, B=2, T=5):
    cfg = DNCConfig(3, 2, controller_size=5, memory_rows=5, memory_width=3,
                    read_heads=heads, controller=controller, loss=loss)
    params = init_params(cfg, seed, "state")
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((B, T, cfg.X))
    if loss == "bce":
        y = (rng.uniform(size=(B, T, cfg.Y)) < 0.5).astype(float)
    else:
        y = np.eye(cfg.Y)[rng.integers(cfg.Y, size=(B, T))]
    m = np.ones((B, T))
    m[-1, T - 2:] = 0.0
    return cfg, params, x, y, m


CASES = tuple(GradcheckCase(f"dnc-{'lstm' if controller == 'lstm' else 'ff'}-{loss}-R{heads}",
                            partial(case_data, controller, loss, heads, seed),
                            regime="state")
              for controller, loss, heads, seed in (("feedforward", "bce", 2, 21),
                                                    ("lstm", "softmax", 1, 22)))
