"""The Family object, its registration, the fixture cases' promises and held-out draws."""

import json
from importlib.metadata import entry_points

import numpy as np
import pytest

from diffmem.models.family import Family, FixtureCase
from diffmem.models.stackrnn import FAMILY
from diffmem.models.stackrnn.cases import counting


def test_family_fields_and_entry_point():
    assert isinstance(FAMILY, Family)
    assert (FAMILY.name, FAMILY.spec_version, FAMILY.models) == ("stackrnn", "stackrnn/1",
                                                                  ("stackrnn",))
    assert FAMILY.training is not None and FAMILY.tasks is not None
    assert FAMILY.calibration is None   # calibration uses the held-out draws
    assert [p.parts[-3:] for p in FAMILY.spec] == [("stack", "spec", "STACKS.md")]
    eps = {e.name: e.value for e in entry_points(group="diffmem.models")}
    assert eps.get("stackrnn") == "diffmem.models.stackrnn:FAMILY"
    cfg = FAMILY.config_from_dict({"alphabet_size": 3, "hidden_size": 4, "model": "stackrnn"})
    assert FAMILY.summary(cfg) == "stackrnn V=3 H=4 K=1 D=8 k=2 actions=push/pop"
    assert [s.name for s in FAMILY.bind(cfg).stages] == ["hidden", "actions", "stack", "logits"]
    for regime in FAMILY.regimes:
        params = FAMILY.init_params(cfg, 0, regime)
        assert {k: v.shape for k, v in params.items()} == FAMILY.param_shapes(cfg)


def test_cases_build_deterministically_and_keep_their_promises():
    names = set()
    for case in FAMILY.cases():
        assert isinstance(case, FixtureCase) and case.name not in names
        names.add(case.name)
        cfg, params, x, y, m, meta = case.build()
        again = case.build()
        assert all(np.array_equal(a, b) for a, b in zip((x, y, m), again[2:5]))
        assert all(np.array_equal(params[k], again[1][k]) for k in params)
        B, T = m.shape
        assert B <= 3 and T <= 16 and cfg.H <= 10 and cfg.K <= 3 and cfg.D <= 8
        json.dumps(meta)
        case.check({"float64": FAMILY.run_reference(cfg, params, x, y, m, want_grads=False)})
    cfgs = [c.build()[0] for c in FAMILY.cases()]
    assert {c.actions for c in cfgs} == {("push", "pop"), ("push", "pop", "noop")}
    assert {c.k for c in cfgs} >= {1, 2}


def test_a_broken_promise_is_refused():
    case = next(c for c in FAMILY.cases() if "clipped" in c.tags)
    cfg, params, x, y, m, _ = case.build()
    run = FAMILY.run_reference(cfg, params, x, y, m, want_grads=False)
    run["trace"]["hidden"] = 0.0 * run["trace"]["hidden"]   # pre-activation = bias = +-60
    with pytest.raises(ValueError, match="inside the clip"):
        case.check({"float64": run})


def test_counting_data():
    x, y, m, lengths = counting(np.random.default_rng(0), 2, 2, 2, letters=2, pad_to=6)
    # '. a a b b .': inputs . a a b b, targets a a b b .
    assert lengths == [5, 5]
    assert x[0].argmax(-1).tolist() == [2, 0, 0, 1, 1, 0] and m[0].tolist() == [1] * 5 + [0]
    assert y[0, :5].argmax(-1).tolist() == [0, 0, 1, 1, 2] and not y[0, 5].any()


def test_heldout_draws():
    a, b = FAMILY.heldout(3, 2), FAMILY.heldout(3, 2)
    assert a.name == b.name
    ca, pa, xa, ya, ma, _ = a.build()
    assert np.array_equal(xa, b.build()[2])
    shapes = set()
    for i in range(6):
        cfg, _, x, _, m, _ = FAMILY.heldout(11, i).build()
        assert x.shape[0] == 33 and 17 <= x.shape[1] <= 40
        assert 1 <= cfg.K <= 4 and 9 <= cfg.D <= 16 and cfg.k <= cfg.D
        shapes.add((cfg, x.shape))
    assert len(shapes) == 6
