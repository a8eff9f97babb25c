"""The comparison extensions an op-level family declares (harness/families_extra.py):
strided trace entries localised at the steps they hold, grad_inputs compared per input
block, display names, and the step description in the first-divergence line."""

import numpy as np
import pytest

from diffmem.backends.protocol import Result, load_backend
from diffmem.harness.compare import FAIL, PASS, run_case
from diffmem.harness.families_extra import restride
from diffmem.harness.testing import reference_case
from diffmem.harness.verdict import Mark, TensorReport
from diffmem.models.delta import DeltaConfig
from diffmem.models.delta.cases import pack, random_data
from diffmem.models.delta.layout import param_shapes


@pytest.fixture(scope="module")
def case():
    cfg = DeltaConfig(model="gated_deltanet", heads=1, value_heads=2, sequences=1)
    d = random_data(cfg, np.random.default_rng(7), 1, 70)
    return reference_case("two-chunks", cfg, {k: d[k] for k in param_shapes(cfg)},
                          pack(cfg, d), d["do"], np.ones((1, 70)), precisions=("float64",))


class Tampered:
    """The float64 reference's own results, one gradient block changed."""
    name = "tampered"

    def __init__(self, block, factor):
        self.inner = load_backend("reference", "cpu", "float64")
        self.block, self.factor = block, factor

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        r = self.inner.run(config, params, inputs, targets, mask, want_trace=want_trace,
                           want_grads=want_grads)
        if want_grads:
            start, width = self.block
            r.grad_inputs = r.grad_inputs.copy()
            r.grad_inputs[..., start:start + width] *= self.factor
        return r


def test_a_small_gradient_block_is_held_to_its_own_scale(case):
    cfg = case.config
    dg = (2 * cfg.K + cfg.HV * cfg.V, cfg.HV)
    exp = case.expected["float64"]["grad_inputs"]
    whole, own = np.abs(exp).max(), np.abs(exp[..., dg[0]:dg[0] + dg[1]]).max()
    assert own < whole / 3       # dg is small beside dv: one packed scale would hide it
    r = run_case(Tampered(dg, 1 + 1e-9 * whole / own), case, "float64", paths=False)
    bad = [t.tensor for t in r.tensors if t.status == Mark.FAIL]
    assert r.status == FAIL and bad == ["grad_inputs/dg"], bad


def test_final_state_is_named_and_strided_state_localised_at_its_step(case):
    from diffmem.backends.torch import make_backend
    from diffmem.models.delta.bugs import StateHandoffUndecayed
    r = run_case(make_backend("cpu", "float64", model_cls=StateHandoffUndecayed), case,
                 "float64", paths=False)
    assert r.status == FAIL
    assert r.divergence.step == 63 and r.divergence.stage.name == "state"
    assert r.first_divergence.startswith("first divergence: t=63 (chunk 0) stage 4 state")
    ht = next(t for t in r.tensors if t.tensor == "grads/dht")
    assert ht.message.startswith("grads/dht (final state ht): ")


def test_restride_maps_indices_to_steps():
    rep = TensorReport("trace/state", "trace", Mark.FAIL, "value",
                       "trace/state: first outside at b=0 t=1 head=0: ...", where={"b": 0, "t": 1},
                       first_bad={"b": 0, "t": 1})
    rep.step_ratios = np.array([[0.5], [3.0]])
    restride(rep, [63, 129], 130)
    assert rep.where["t"] == rep.first_bad["t"] == 129 and "t=129" in rep.message
    assert rep.step_ratios.shape == (130, 1) and rep.step_ratios[129, 0] == 3.0
    assert rep.step_ratios[:63].max() == 0.0


def test_a_correct_run_reports_every_block(case):
    r = run_case(load_backend("reference", "cpu", "float64"), case, "float64", paths=False)
    assert r.status == PASS
    assert [t.tensor for t in r.tensors if t.tensor.startswith("grad_inputs")] == [
        "grad_inputs/dq", "grad_inputs/dk", "grad_inputs/dv", "grad_inputs/dg",
        "grad_inputs/dbeta"]
