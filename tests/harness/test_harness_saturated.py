"""Saturated attention in the fixtures: weights exactly 0 on some rows.

An epsilon-free log-form sharpening, softmax(gamma * log w), is right everywhere a
shifted weight is positive and NaN in its gradient where one is exactly 0; a softmax
without its max, or with the max taken over the batch, is right until exp leaves its
range.  Every fixture and held-out case once had shifted weights of at least 4e-16, so
none of these was caught more than once; the saturated cases catch each on every case.
"""

import numpy as np
import pytest

from diffmem.backends.protocol import load_backend
from diffmem.harness.compare import FAIL, PASS, run_case
from diffmem.harness.fixture_io import case_path, load_case

NTM_SATURATED = ("ntm-copy-ff-saturated", "ntm-copy-lstm-saturated",
                 "ntm-copy-ff-multihead-saturated")


@pytest.fixture(scope="module")
def saturated():
    return {n: load_case(case_path(n, None)) for n in NTM_SATURATED}


def _bug(name, case, dtype):
    return run_case(load_backend(f"diffmem.models.ntm.bugs:{name}", "cpu", dtype), case,
                    dtype, paths=False)


@pytest.mark.parametrize("name", NTM_SATURATED)
def test_shifted_and_sharpened_weights_are_exactly_zero_on_some_rows(saturated, name):
    trace = saturated[name].expected["float64"]["trace"]
    for entry in ("write.w_shifted", "write.weight", "read.w_shifted", "read.weight"):
        assert (trace[entry] == 0).any(), entry
        assert (trace[entry] > 0.5).any(), entry   # and attention is somewhere


@pytest.mark.parametrize("name", NTM_SATURATED)
def test_log_form_sharpening_without_eps_fails_with_its_nan_named(saturated, name):
    r = _bug("sharpening_log_without_eps", saturated[name], "float64")
    assert r.status == FAIL
    nan = [t for t in r.tensors if t.kind == "nonfinite"]
    assert nan and all(t.tensor.startswith(("grads/", "grad_inputs")) for t in nan)
    assert "contain NaN at" in nan[0].message and "the reference is finite there" in \
        nan[0].message
    assert r.first_divergence.startswith("forward matched (logits, loss, trace); only "
                                         "gradients differ")


@pytest.mark.parametrize("bug", ["softmax_without_max", "softmax_max_over_batch"])
def test_fragile_softmax_bugs_are_caught_on_every_saturated_case(saturated, bug):
    caught = [n for n, case in saturated.items()
              if _bug(bug, case, "float32").status == FAIL]
    assert caught == list(NTM_SATURATED)


def test_correct_backends_pass_the_saturated_cases(saturated):
    for case in saturated.values():
        for dtype in ("float32", "float64"):
            r = run_case(load_backend("torch", "cpu", dtype), case, dtype, paths=False)
            assert r.status == PASS, (case.name, dtype, r.first_divergence)


def test_stackrnn_saturated_actions_catch_a_softmax_without_max():
    case = load_case(case_path("stackrnn-anbn-noop-saturated", None))
    action = case.expected["float64"]["trace"]["action"]
    assert (action == 0).any() and (action == 1).any()
    backend = load_backend("diffmem.models.stackrnn.bugs:action_softmax_without_max", "cpu",
                           "float64")
    r = run_case(backend, case, "float64", paths=False)
    assert r.status == FAIL
    assert any(t.kind == "nonfinite" and "contain NaN" in t.message for t in r.tensors)
    assert np.isfinite(case.expected["float64"]["loss"]).all()
