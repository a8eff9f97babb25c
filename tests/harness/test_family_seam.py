"""The model-family seam: a family defined entirely here, in this test module, is
generated into fixtures, checked by the bundled torch and JAX drivers, and its bug caught
and localised, with no edit anywhere else.  It stands in for a new folder under models/
plus its one entry-point line (registered here by adding it to the registry's dict).

The toy model, a leaky tanh RNN:  h_t = tanh(W x_t + a * h_{t-1} + b),  y_t = V h_t + c,
bit-vector loss as NTM.md.
"""

import dataclasses

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import value_and_grad

from diffmem import models
from diffmem.models.family import Family, FixtureCase, Stage, TraceEntry

HIDDEN, OUTPUT = Stage(1, "hidden"), Stage(2, "logits")


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    input_size: int
    output_size: int
    hidden_size: int = 3
    model: str = "toy"

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


def param_shapes(cfg):
    return {"W": (cfg.hidden_size, cfg.input_size), "a": (cfg.hidden_size,),
            "b": (cfg.hidden_size,), "V": (cfg.output_size, cfg.hidden_size),
            "c": (cfg.output_size,)}


def trace_entries(cfg):
    return [TraceEntry("hidden", HIDDEN, None), TraceEntry("logits", OUTPUT, None)]


def trace_shapes(cfg, steps=None):
    return {"hidden": (cfg.hidden_size,), "logits": (cfg.output_size,)}


def init_params(cfg, seed, regime="init"):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0, 0.5, s) for k, s in param_shapes(cfg).items()}


def run_reference(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
                  want_grads=True):
    """The plain loop, one sequence at a time, autograd for the gradients."""
    params = {k: np.asarray(v, dtype) for k, v in params.items()}
    out = {"logits": [], "loss": [], "trace": {"hidden": [], "logits": []},
           "grads": {k: 0.0 for k in params}, "grad_inputs": []}

    def loss_of(p, x, y, m, keep):
        h, total = anp.zeros(cfg.hidden_size, dtype), 0.0
        for t in range(x.shape[0]):
            h = anp.tanh(p["W"] @ x[t] + p["a"] * h + p["b"])
            z = p["V"] @ h + p["c"]
            total = total + m[t] * anp.sum(anp.logaddexp(z, 0.0) - y[t] * z)
            keep.append((h, z))
        return total

    for b in range(inputs.shape[0]):
        x, y, m = (np.asarray(a[b], dtype) for a in (inputs, targets, mask))
        keep = []
        loss, (g, gx) = value_and_grad(
            lambda p, x_: loss_of(p, x_, y, m, keep), argnum=(0, 1))(params, x)
        hs = np.stack([np.asarray(getattr(h, "_value", h)) for h, _ in keep])
        zs = np.stack([np.asarray(getattr(z, "_value", z)) for _, z in keep])
        out["logits"].append(zs)
        out["loss"].append(loss)
        out["trace"]["hidden"].append(hs)
        out["trace"]["logits"].append(zs)
        out["grads"] = {k: out["grads"][k] + g[k] for k in params}
        out["grad_inputs"].append(gx)
    return {"logits": np.stack(out["logits"]), "loss": np.asarray(out["loss"], dtype),
            "trace": {k: np.stack(v) for k, v in out["trace"].items()},
            "grads": {k: np.asarray(v, dtype) for k, v in out["grads"].items()},
            "grad_inputs": np.stack(out["grad_inputs"])}


class BatchedToy:
    OPS = frozenset({"zeros_like_shape", "tanh", "sum", "softplus"})

    def __init__(self, xp, cfg):
        self.xp, self.cfg = xp, cfg

    def initial_state(self, params, batch, steps=None):
        return {"h": self.xp.zeros_like_shape(params["b"], (batch, self.cfg.hidden_size))}

    def hidden(self, params, x, h):
        return self.xp.tanh(x @ params["W"].mT + params["a"] * h + params["b"])

    def step(self, params, state, x):
        h = self.hidden(params, x, state["h"])
        z = h @ params["V"].mT + params["c"]
        return {"h": h}, {"hidden": h, "logits": z}

    def loss(self, logits, targets, mask):
        xp = self.xp
        return xp.sum(mask * xp.sum(xp.softplus(logits) - targets * logits, axis=-1), axis=-1)


class LeakDropped(BatchedToy):
    """The recurrence a * h_{t-1} left out."""
    STAGES, NEEDS = (HIDDEN,), ()

    def hidden(self, params, x, h):
        return super().hidden(params, x, 0.0 * h)


def _build():
    cfg = ToyConfig(2, 2)
    rng = np.random.default_rng(3)
    inputs, targets = rng.normal(size=(2, 5, 2)), rng.uniform(size=(2, 5, 2))
    mask = np.ones((2, 5))
    mask[1, 3:] = 0.0
    return (cfg, init_params(cfg, 1), inputs, targets, mask,
            {"description": "toy", "summary": "toy", "tags": [], "regime": "init",
             "data": {"task": "random", "lengths": [5, 3]}})


class ToyFamily(Family):
    name, spec_version, models, spec = "toy", "toy/1", ("toy",), ()
    config_class, regimes, batched = ToyConfig, ("init",), BatchedToy
    dtypes = ("float64", "float32")

    def param_shapes(self, cfg):
        return param_shapes(cfg)

    def init_params(self, cfg, seed, regime):
        return init_params(cfg, seed, regime)

    def trace_entries(self, cfg):
        return trace_entries(cfg)

    def trace_shapes(self, cfg, steps):
        return trace_shapes(cfg, steps)

    def run_reference(self, cfg, params, inputs, targets, mask, **options):
        return run_reference(cfg, params, inputs, targets, mask, **options)

    def summary(self, cfg):
        return "toy"

    def cases(self):
        return (FixtureCase("toy-random", "a toy case", _build, cost=10),)

    def heldout(self, seed, index):
        return FixtureCase(f"toy-heldout-{seed}-{index}", "toy", _build)

    def bugs(self):
        return {"LeakDropped": LeakDropped}


TOY = ToyFamily()


@pytest.fixture
def toy_registered(monkeypatch):
    """The toy family beside the installed ones, as one more entry point would put it."""
    registry = models.families()
    monkeypatch.setitem(registry, "toy", TOY)
    models._by_model.cache_clear()
    yield
    models._by_model.cache_clear()


def test_a_family_defined_outside_diffmem_runs_through_every_seam(toy_registered, tmp_path):
    from diffmem.backends.protocol import load_backend
    from diffmem.harness import fixture_gen
    from diffmem.harness.bug_hunt import hunt_one
    from diffmem.harness.compare import PASS, run_case
    from diffmem.harness.fixture_io import list_cases

    written = fixture_gen.generate(tmp_path, "toy-*", log=lambda *_: None)
    assert set(written) == {"toy-random"}
    [case] = list_cases(tmp_path)
    assert case.model.name == "toy" and set(case.expected) == {"float64", "float32"}
    for backend in ("torch", "jax"):
        for dtype in ("float64", "float32"):
            result = run_case(load_backend(backend, "cpu", dtype), case, dtype)
            assert result.status == PASS, (backend, dtype, result.first_divergence)
    verdict = hunt_one("LeakDropped", [case])
    assert verdict.caught and verdict.localised and verdict.found_at == HIDDEN
    # A model of another family, given to the NTM's bug backend, is declined, not failed.
    ntm_bug = load_backend("diffmem.models.ntm.bugs:shift_wrong_sign", "cpu", "float64")
    assert "another family" in str(ntm_bug.supports(case.config))


def test_a_model_name_claimed_by_two_families_is_refused(toy_registered, monkeypatch):
    toy2 = ToyFamily()
    toy2.name = "toy2"
    monkeypatch.setitem(models.families(), "toy2", toy2)
    models._by_model.cache_clear()
    with pytest.raises(RuntimeError, match="claimed by families 'toy' and 'toy2'"):
        models.family_for("toy")


def test_an_unknown_model_is_one_clear_error():
    with pytest.raises(ValueError, match=r"config.model: expected one of .*'ntm'.*got 'dnc'"):
        models.bind({"model": "dnc"})


def test_a_config_is_bound_once_and_carried():
    cfg = ToyConfig(2, 2)
    model = TOY.bind(cfg)
    assert TOY.bind(cfg) is model and TOY.bind(cfg.to_dict()) is model
    assert model.trace_names == ("hidden", "logits") and model.stages == [HIDDEN, OUTPUT]
    assert model.param_shapes == param_shapes(cfg) and model.name == "toy"
    with pytest.raises(ValueError, match=r"config: expected a ToyConfig \(family toy\) or its "
                                         r"dict, got NTMConfig"):
        TOY.bind(models.bind({"model": "ntm", "input_size": 1, "output_size": 1,
                              "controller_size": 1, "memory_rows": 1,
                              "memory_width": 1}).config)


def test_a_family_must_define_every_method():
    class Half(Family):
        name = "half"

        def param_shapes(self, cfg):
            return {}
    with pytest.raises(TypeError, match="abstract"):
        Half()


class NeedsCumprod(BatchedToy):
    """A correct rewrite that needs an operation no bundled ops table has."""
    OPS = BatchedToy.OPS | {"cumprod_stable"}


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_a_driver_lacking_an_operation_refuses_with_one_line(toy_registered, framework):
    import importlib

    from diffmem.backends.protocol import Unsupported
    from diffmem.harness.compare import UNSUPPORTED, run_case
    from diffmem.harness.testing import reference_case
    driver = importlib.import_module(f"diffmem.backends.{framework}")
    backend = driver.make_backend("cpu", "float64", model_cls=NeedsCumprod)
    cfg, params, inputs, targets, mask, meta = _build()
    case = reference_case("toy", cfg, params, inputs, targets, mask, meta)
    table = "TorchOps" if framework == "torch" else "JaxOps"
    line = f"{table} lacks the array operation(s) cumprod_stable that NeedsCumprod " \
           f"(family toy) needs"
    assert backend.supports(cfg) == line
    result = run_case(backend, case, "float64")
    assert result.status == UNSUPPORTED and line in result.unsupported
    with pytest.raises(Unsupported, match=line.replace("(", r"\(").replace(")", r"\)")):
        driver.make_model(cfg, model_cls=NeedsCumprod)


class _Only:
    """An ops table that has only the named operations of another: a batched form that
    uses an undeclared one fails here with AttributeError."""

    def __init__(self, table, names):
        self._table, self._names = table, frozenset(names)

    def __getattr__(self, name):
        if name not in self._names:
            raise AttributeError(f"{name} (not declared in OPS)")
        return getattr(self._table, name)


def _forms(fam):
    yield fam.batched
    yield from fam.bugs().values()
    yield from fam.variants().values()


@pytest.mark.parametrize("family", sorted(models.families()))
def test_each_batched_form_uses_only_the_operations_it_declares(family):
    import torch

    from diffmem.backends.torch import TorchOps, to_tensors
    from diffmem.backends.torch.driver import run_model
    fam = models.family_named(family)
    # A time-loop form runs 3 steps of one sequence; a whole-sequence form (run_sequence:
    # delta/1's chunked algorithm, whose config fixes B and, under cu_seqlens, T) the case.
    whole = hasattr(fam.batched, "run_sequence")
    cut = (lambda a: a) if whole else (lambda a: a[:1, :3])
    seen, cases = set(), []
    for case in fam.cases():   # one case per distinct config: what a form uses depends on it
        if case.missing is None:
            cfg, params, inputs, targets, mask, _ = case.build()
            if cfg not in seen:
                seen.add(cfg)
                cases.append((cfg, params, cut(inputs), cut(targets), cut(mask)))
    for form in _forms(fam):
        assert fam.ops <= form.OPS, form.__name__
        for cfg, params, inputs, targets, mask in cases:
            net = form(_Only(TorchOps(), form.OPS), cfg)
            p = to_tensors(params, dtype="float64")
            x, z, m = (torch.as_tensor(a) for a in (inputs, targets, mask))
            run_model(net, p, x, z, m, want_trace=True)
