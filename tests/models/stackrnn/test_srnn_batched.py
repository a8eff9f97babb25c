"""The batched form (BatchedStackRNN) through the torch and JAX drivers against the
reference: every fixture case and two held-out draws, float64 to ~1e-10, float32 loosely."""

import numpy as np
import pytest

from diffmem.models.stackrnn import FAMILY
from diffmem.models.stackrnn.batched import BatchedStackRNN

CASES = {c.name: c for c in FAMILY.cases() + (FAMILY.heldout(0, 0), FAMILY.heldout(7, 1))}


def _flat(run):
    out = {"logits": run["logits"], "loss": run["loss"], "grad_inputs": run["grad_inputs"]}
    out.update({f"trace.{k}": v for k, v in run["trace"].items()})
    out.update({f"grads.{k}": v for k, v in run["grads"].items()})
    return out


@pytest.fixture(scope="module")
def reference_runs():
    runs = {}
    for name, case in CASES.items():
        cfg, params, x, y, m, _ = case.build()
        runs[name] = FAMILY.run_reference(cfg, params, x, y, m)
    return runs


@pytest.mark.parametrize("lib", ["torch", "jax"])
@pytest.mark.parametrize("name", list(CASES))
def test_float64_equals_reference(name, lib, drivers, reference_runs):
    cfg, params, x, y, m, _ = CASES[name].build()
    got = _flat(drivers[lib](BatchedStackRNN, cfg, params, x, y, m))
    want = _flat(reference_runs[name])
    assert set(got) == set(want)
    for key, w in want.items():
        assert got[key].shape == w.shape, key
        err = np.abs(got[key] - w).max()
        assert err <= 1e-10 * max(1.0, np.abs(w).max()), (key, err)


@pytest.mark.parametrize("name,lib", [("stackrnn-anbn-noop-sharp", "torch"),
                                      ("stackrnn-random-clipped-noop", "torch"),
                                      ("stackrnn-random-clipped-noop", "jax")])
def test_float32_close(name, lib, drivers, reference_runs):
    cfg, params, x, y, m, _ = CASES[name].build()
    got = _flat(drivers[lib](BatchedStackRNN, cfg, params, x, y, m, dtype="float32"))
    want = _flat(reference_runs[name])
    for key, w in want.items():
        assert got[key].dtype == np.float32
        err = np.abs(got[key] - w).max()
        assert err <= 1e-4 * max(1.0, np.abs(w).max()), (key, err)


def test_trace_names_and_shapes_follow_layout(reference_runs):
    for name, case in CASES.items():
        cfg, _, x, _, _, _ = case.build()
        trace = reference_runs[name]["trace"]
        entries = FAMILY.trace_entries(cfg)
        assert list(trace) == [e.name for e in entries]
        for e in entries:
            assert trace[e.name].shape == x.shape[:2] + FAMILY.trace_shapes(cfg, x.shape[1])[e.name]
            assert (e.heads == "stack") == (e.name in ("action", "push_value", "stack"))
