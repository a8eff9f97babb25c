"""The Stack-RNN's cases for ``diffmem gradcheck`` (engine: ``diffmem.reference.gradcheck``).

Away from the push value's clip at +-50 (the init regime's pre-activations are O(1)):
the clip's own gradient at and beyond its kinks is pinned by hand-worked tests."""

from __future__ import annotations

from functools import partial

import numpy as np

from diffmem.reference.gradcheck import GradcheckCase

from .config import StackRNNConfig
from .params import init_params


def case_data(actions, k, seed=5, B=2, T=6):
    cfg = StackRNNConfig(alphabet_size=3, hidden_size=4, stacks=2, depth=3, top_k=k,
                         actions=actions)
    params = init_params(cfg, seed, "init")
    rng = np.random.default_rng(seed + 1)
    x = np.eye(cfg.V)[rng.integers(cfg.V, size=(B, T))]
    y = np.eye(cfg.V)[rng.integers(cfg.V, size=(B, T))]
    m = np.ones((B, T))
    m[-1, T // 2:] = 0.0
    return cfg, params, x, y, m


CASES = (GradcheckCase("push-pop-k2", partial(case_data, ("push", "pop"), 2)),
         GradcheckCase("push-pop-noop-k1", partial(case_data, ("push", "pop", "noop"), 1)))
