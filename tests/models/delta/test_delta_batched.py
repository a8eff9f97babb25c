"""The chunked WY batched form through both bundled drivers matches the reference (the
harness's own bounds, via ``run_case``), on small cases that cross a chunk edge; the
correct rewrite (the per-step recurrence over the ops table) too."""

import numpy as np
import pytest

from diffmem.backends.protocol import load_backend
from diffmem.harness.compare import PASS, run_case
from diffmem.harness.testing import reference_case
from diffmem.models.delta import DeltaConfig
from diffmem.models.delta.bugs import Recurrent
from diffmem.models.delta.cases import pack, random_data
from diffmem.models.delta.layout import param_shapes


def small_case(name, dtypes, **kw):
    cfg = DeltaConfig(**{"model": "gated_deltanet", "heads": 1, "value_heads": 2,
                         "qk_l2norm": True, **kw})
    B = 1 if cfg.varlen else cfg.N
    T = cfg.cu_seqlens[-1] if cfg.varlen else 66
    d = random_data(cfg, np.random.default_rng(5), B, T, raw_qk=True)
    params = {k: d[k] for k in param_shapes(cfg)}
    return reference_case(name, cfg, params, pack(cfg, d), d["do"], np.ones((B, T)),
                          precisions=dtypes)


@pytest.fixture(scope="module")
def varlen():
    # a length-0, a length-1 and a 65-step sequence: chunk edges inside the row
    return small_case("varlen", ("float64", "float32"), sequences=4,
                      cu_seqlens=[0, 1, 1, 66, 70])


@pytest.mark.parametrize("framework,dtype", [("torch", "float64"), ("torch", "float32"),
                                             ("jax", "float64")])
def test_bundled_drivers_pass(varlen, framework, dtype):
    r = run_case(load_backend(framework, "cpu", dtype), varlen, dtype, paths=False)
    assert r.status == PASS, (r.error, r.first_divergence,
                              [t.message for t in r.tensors if not t.passed])
    names = {t.tensor for t in r.tensors}
    assert {"grad_inputs/dq", "grad_inputs/dg", "grad_inputs/dbeta", "trace/state"} <= names


def test_per_value_beta_and_low_precision_mode():
    case = small_case("beta-value", ("float64", "bfloat16"), model="deltanet", heads=2,
                      value_heads=2, beta_per_value=True, qk_l2norm=False, sequences=2)
    r = run_case(load_backend("torch", "cpu", "bfloat16"), case, "bfloat16", paths=False)
    assert r.error is None
    assert all(t.status != "fail" for t in r.tensors), [t.message for t in r.tensors]


def test_the_recurrent_rewrite_is_correct(varlen):
    from diffmem.backends.torch import make_backend
    r = run_case(make_backend("cpu", "float64", model_cls=Recurrent), varlen, "float64",
                 paths=False)
    assert r.status == PASS, r.first_divergence
