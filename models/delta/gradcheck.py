"""delta/1's cases for ``diffmem gradcheck`` (engine: ``diffmem.reference.gradcheck``).

Random inputs as DELTA.md draws them: the gates g = logsigmoid(U(0,1)) sit at least 0.3
below their bound 0, far beyond the finite-difference steps."""

from __future__ import annotations

from functools import partial

import numpy as np

from diffmem.reference.gradcheck import GradcheckCase

from .cases import pack, random_data
from .config import DeltaConfig
from .layout import param_shapes


def case_data(kw, seed=1, B=1, T=5):
    cfg = DeltaConfig(**{"key_dim": 3, "value_dim": 2, "heads": 1, "value_heads": 1,
                         "sequences": 1, **kw})
    rng = np.random.default_rng(seed)
    d = random_data(cfg, rng, B, T, raw_qk=cfg.qk_l2norm)
    params = {k: d[k] for k in param_shapes(cfg)}
    return cfg, params, pack(cfg, d), d["do"], rng.uniform(0.5, 2, size=(B, T))


CASES = (
    GradcheckCase("gated-l2norm-hv2", partial(case_data, dict(
        model="gated_deltanet", qk_l2norm=True, heads=1, value_heads=2))),
    GradcheckCase("deltanet-varlen-beta-v", partial(case_data, dict(
        model="deltanet", beta_per_value=True, sequences=3, cu_seqlens=[0, 2, 2, 5]))),
)
