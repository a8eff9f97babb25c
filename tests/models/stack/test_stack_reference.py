"""The reference against central finite differences away from ties, its validation of
bad input, the config, the layout and the registration."""

from importlib.metadata import entry_points

import numpy as np
import pytest

from diffmem.models.stack import FAMILY, reference
from diffmem.models.stack.config import StackConfig
from diffmem.models.stack.layout import (interface_fields, param_shapes, split_interface,
                                         trace_entries, trace_shapes)
from diffmem.models.stack.params import REGIMES, init_params


def _data(cfg, B, T, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, T, cfg.X))
    if cfg.loss == "bce":
        y = (rng.uniform(size=(B, T, cfg.Y)) < 0.5).astype(float)
    else:
        y = np.eye(cfg.Y)[rng.integers(cfg.Y, size=(B, T))]
    m = np.ones((B, T))
    m[-1, T - 2:] = 0.0
    return x, y, m


@pytest.mark.parametrize("model,controller,loss", [
    ("stack", "feedforward", "bce"), ("queue", "lstm", "softmax"),
    ("deque", "feedforward", "softmax"), ("deque", "lstm", "bce")])
def test_reference_gradients_match_central_differences(model, controller, loss):
    cfg = StackConfig(3, 4, controller_size=5, value_size=2, controller=controller,
                      loss=loss, model=model)
    # pop bias +1 instead of the paper's -1: pops do something, so the pop and the read
    # budget are exercised (away from exact ties: smooth random weights).
    params = init_params(cfg, 11, "init")
    params["interface.bias"][[s for n, s, _ in interface_fields(cfg) if n.startswith("pop")]] = 0.5
    x, y, m = _data(cfg, 2, 5, 12)
    run = reference.run_batch(cfg, params, x, y, m, want_trace=False)

    def loss_of(p, xx):
        return reference.run_batch(cfg, p, xx, y, m, want_trace=False,
                                   want_grads=False)["loss"].sum()

    rng = np.random.default_rng(13)
    h = 1e-6
    checked = 0
    for name in list(params) + ["inputs"]:
        target = x if name == "inputs" else params[name]
        grad = run["grad_inputs"] if name == "inputs" else run["grads"][name]
        for flat in rng.choice(target.size, size=min(4, target.size), replace=False):
            idx = np.unravel_index(flat, target.shape)
            plus, minus = target.copy(), target.copy()
            plus[idx] += h
            minus[idx] -= h
            if name == "inputs":
                fd = (loss_of(params, plus) - loss_of(params, minus)) / (2 * h)
            else:
                fd = (loss_of(dict(params, **{name: plus}), x)
                      - loss_of(dict(params, **{name: minus}), x)) / (2 * h)
            assert abs(grad[idx] - fd) <= 1e-6 * max(1.0, abs(fd)), (name, idx, grad[idx], fd)
            checked += 1
    assert checked >= 20


def test_loss_definitions_by_hand():
    """bce: softplus(y) - z y summed over Y; softmax: logsumexp(y) - SUM z y; masked."""
    for loss in ("bce", "softmax"):
        cfg = StackConfig(1, 2, loss=loss)
        y = np.array([[[0.3, -1.2], [2.0, 0.5]]])
        z = np.array([[[1.0, 0.0], [0.0, 1.0]]])
        mask = np.array([[1.0, 0.5]])
        got = reference.sequence_loss(cfg, y, z, mask)
        if loss == "bce":
            per = np.log1p(np.exp(y)).sum(-1) - (z * y).sum(-1)
        else:
            per = np.log(np.exp(y).sum(-1)) - (z * y).sum(-1)
        assert got[0] == pytest.approx((mask * per).sum(), rel=1e-14)


def test_layout_shapes_and_interface_order():
    cfg = StackConfig(3, 4, controller_size=5, value_size=2, controller="lstm", model="deque")
    shapes = param_shapes(cfg)
    assert shapes["controller.weight"] == (20, 3 + 4 + 5)
    assert shapes["interface.weight"] == (4 + 2 * 2, 5)
    assert shapes["output.weight"] == (4, 5 + 4)
    assert shapes["init.read"] == (2, 2)
    xi = np.arange(8.0)
    raw = split_interface(xi, cfg)
    assert raw["push.top"] == 0 and raw["push.bottom"] == 1
    assert raw["pop.top"] == 2 and raw["pop.bottom"] == 3
    assert list(raw["value.top"]) == [4, 5] and list(raw["value.bottom"]) == [6, 7]
    stack = StackConfig(3, 4, value_size=3)
    assert param_shapes(stack)["interface.weight"][0] == 5 and param_shapes(stack)["init.read"] == (3,)
    names = [e.name for e in trace_entries(cfg)]
    assert names == ["controller", "controller_cell", "interface", "push.top", "push.bottom",
                     "pop.top", "pop.bottom", "value.top", "value.bottom", "strength",
                     "read.top", "read.bottom", "logits"]
    stages = [e.stage.number for e in trace_entries(cfg)]
    assert stages == sorted(stages)
    assert trace_shapes(cfg, 7)["strength"] == (14,)
    assert trace_shapes(stack, 7)["strength"] == (7,)


def test_trace_shapes_match_a_reference_run():
    for model in ("stack", "queue", "deque"):
        cfg = StackConfig(2, 3, controller_size=4, value_size=2, model=model, controller="lstm")
        x, y, m = _data(cfg, 2, 4, 1)
        run = reference.run_batch(cfg, init_params(cfg, 1), x, y, m, want_grads=False)
        shapes = trace_shapes(cfg, 4)
        assert list(run["trace"]) == [e.name for e in trace_entries(cfg)]
        for k, v in run["trace"].items():
            assert v.shape == (2, 4) + shapes[k], (model, k)


def test_config_round_trip_and_bad_fields():
    cfg = StackConfig(3, 4, controller="lstm", loss="softmax", model="queue")
    assert StackConfig.from_dict(cfg.to_dict()) == cfg
    assert FAMILY.config_from_dict(cfg.to_dict()) == cfg
    bad = [dict(input_size=0, output_size=1), dict(input_size=1, output_size=True),
           dict(input_size=1, output_size=1, model="tape"),
           dict(input_size=1, output_size=1, controller="gru"),
           dict(input_size=1, output_size=1, loss="mse"),
           dict(input_size=1, output_size=1, value_size=2.0),
           dict(input_size=1, output_size=1, memory_rows=3), dict(output_size=1)]
    for d in bad:
        with pytest.raises(ValueError) as info:
            StackConfig.from_dict(d)
        assert "\n" not in str(info.value) and "StackConfig" in str(info.value)
    with pytest.raises(ValueError, match="expected a dict"):
        StackConfig.from_dict([1])


def test_bad_input_is_one_clear_valueerror():
    cfg = StackConfig(3, 4, controller_size=5, value_size=2)
    params = init_params(cfg, 0)
    x, y, m = _data(cfg, 2, 3, 0)
    cases = [
        (dict(params=dict(params, extra=np.zeros(1))), "params"),
        (dict(params={k: v for k, v in params.items() if k != "init.read"}), "params"),
        (dict(params=dict(params, **{"init.read": np.zeros(3)})), "init.read"),
        (dict(params=dict(params, **{"output.bias": np.array([np.nan] * 4)})), "output.bias"),
        (dict(inputs=x[..., :2]), "inputs"), (dict(targets=y[:, :2]), "targets"),
        (dict(mask=-m), "mask"), (dict(inputs=np.where(x > 1, np.inf, x)), "inputs"),
        (dict(dtype="float8"), "dtype"), (dict(cfg={"input_size": 3}), "config"),
    ]
    for change, word in cases:
        args = dict(cfg=cfg, params=params, inputs=x, targets=y, mask=m, dtype="float64")
        args.update(change)
        with pytest.raises(ValueError) as info:
            reference.run_batch(args["cfg"], args["params"], args["inputs"], args["targets"],
                                args["mask"], dtype=args["dtype"])
        assert word in str(info.value) and "\n" not in str(info.value), change
    with pytest.raises(ValueError, match="regime"):
        init_params(cfg, 0, "loud")


def test_init_regimes_are_pure_and_make_their_ties():
    cfg = StackConfig(3, 4, controller_size=6, value_size=2, model="deque")
    for regime in REGIMES:
        a, b = init_params(cfg, 5, regime), init_params(cfg, 5, regime)
        assert all(np.array_equal(a[k], b[k]) for k in a)
    x, y, m = _data(cfg, 2, 6, 2)
    tr = reference.run_batch(cfg, init_params(cfg, 5, "half"), x, y, m, want_grads=False)["trace"]
    assert np.all(tr["push.top"] == 0.5) and np.all(tr["push.bottom"] == 0.5)
    tr = reference.run_batch(cfg, init_params(cfg, 5, "full"), x, y, m, want_grads=False)["trace"]
    assert np.all(tr["push.top"] == 1.0)
    tr = reference.run_batch(cfg, init_params(cfg, 5, "sharp"), x, y, m, want_grads=False)["trace"]
    pops = np.concatenate([tr["pop.top"].ravel(), tr["pop.bottom"].ravel()])
    assert np.any(pops == 1.0) and np.any(pops == 0.0)


def test_registered_as_an_entry_point():
    found = {e.name: e.value for e in entry_points(group="diffmem.models")}
    assert found.get("stack") == "diffmem.models.stack:FAMILY"
    assert FAMILY.name == "stack" and FAMILY.spec_version == "stack/1"
    assert FAMILY.models == ("stack", "queue", "deque")
    with open(FAMILY.spec[0]) as f:
        assert "neural stack / queue / deque" in f.read()


def test_family_fields_are_wired():
    from diffmem.backends.torch.ops import TorchOps
    from diffmem.models.stack.batched import BatchedStack
    from diffmem.models.stack.bugs import BUGS

    cfg = StackConfig(3, 4)
    assert isinstance(FAMILY.batched(TorchOps(), cfg), BatchedStack)
    assert list(FAMILY.bugs().values()) == list(BUGS)
    names = [c.name for c in FAMILY.cases()]
    assert len(names) == len(set(names)) >= 18
    draw = FAMILY.heldout(0, 0)
    cfg0 = draw.build()[0]   # the name says what was drawn: model, B, T
    assert draw.name.startswith(f"{cfg0.model}-heldout-0-0-") and "-B33-" in draw.name
    assert FAMILY.summary(cfg) == "stack ff bce X=3 Y=4 H=32 m=8"
    assert [s.name for s in FAMILY.bind(cfg).stages] == ["controller", "interface", "activations",
                                                    "strengths", "read", "logits"]


def test_cases_keep_their_tie_promises_and_the_check_can_fail():
    from diffmem.models.stack.cases import TIE_KINDS, tie_census

    covered = set()
    for case in FAMILY.cases():
        cfg, params, x, y, m, meta = case.build()
        assert x.shape[0] <= 3 and x.shape[1] <= 12 and cfg.m <= 4 and cfg.H <= 8
        run = reference.run_batch(cfg, params, x, y, m, want_grads=False)
        if case.check is not None:
            case.check({"float64": run})
            covered |= {k for k, v in tie_census(cfg, run, m).items() if v}
        else:
            # a case without promised ties: its check would fail if it made promises
            assert not any(tie_census(cfg, run, m).values()), case.name
    assert covered == set(TIE_KINDS)
    # the check refuses a run without ties (the same case's data, paper-init params)
    tie_case = next(c for c in FAMILY.cases() if c.check is not None)
    cfg, params, x, y, m, meta = tie_case.build()
    plain = reference.run_batch(cfg, init_params(cfg, 0, "init"), x, y, m, want_grads=False)
    with pytest.raises(ValueError, match="promises exact ties"):
        tie_case.check({"float64": plain})


def test_heldout_draws_are_pure_and_new_shapes():
    a, b = FAMILY.heldout(3, 1).build(), FAMILY.heldout(3, 1).build()
    assert all(np.array_equal(a[1][k], b[1][k]) for k in a[1])
    assert np.array_equal(a[2], b[2]) and a[5] == b[5]
    models = set()
    for i in range(12):
        cfg, params, x, y, m, meta = FAMILY.heldout(5, i).build()
        assert x.shape[0] == 33 and 13 <= x.shape[1] <= 40 and 5 <= cfg.m <= 8
        models.add(cfg.model)
    assert models == {"stack", "queue", "deque"}
