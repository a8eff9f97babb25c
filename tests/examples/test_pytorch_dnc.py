"""The pytorch-dnc adapter (examples/pytorch_dnc): diffmem finds real differences in real code.

Needs ixaxaar/pytorch-dnc on PYTHONPATH (never copied here):
    git clone https://github.com/ixaxaar/pytorch-dnc /tmp/pytorch-dnc
    PYTHONPATH=/tmp/pytorch-dnc pytest tests/examples/test_pytorch_dnc.py
"""

import pathlib
import sys

import numpy as np
import pytest

memory = pytest.importorskip("dnc.memory", reason="pytorch-dnc is not importable: clone "
                             "https://github.com/ixaxaar/pytorch-dnc and put it on PYTHONPATH")
if not hasattr(memory, "Memory"):
    pytest.skip("the importable 'dnc' is not pytorch-dnc", allow_module_level=True)

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from diffmem.harness.compare import run_case  # noqa: E402
from diffmem.harness.fixture_io import case_path, load_case  # noqa: E402
from examples.pytorch_dnc.adapter import PyTorchDNC, make_backend  # noqa: E402
from examples.pytorch_dnc.patches import NAMES, PATCHES, select  # noqa: E402

# Random initial memory: every difference changes values (DNC.md "Visibility").
CASE = "dnc-random-ff-state"


@pytest.fixture(scope="module")
def case():
    return load_case(case_path(CASE))


def without(name):
    return tuple(p for p in PATCHES if p.name != name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("linears", ["one", "independent"])
def test_all_patches_pass(case, dtype, linears):
    r = run_case(make_backend("cpu", dtype, patches="all", linears=linears), case, dtype,
                 paths=False)
    assert r.status == "pass", r.first_divergence


def test_as_published_it_fails_at_the_first_step(case):
    r = run_case(make_backend("cpu", "float64", patches="none"), case, "float64", paths=False)
    assert r.status == "fail" and r.divergence.step == 0


@pytest.mark.parametrize("name,step,stage,entry", [
    # tanh on the read keys (and the write key and vector): the step-0 activations.
    ("no_tanh", 0, 3, "read.key"),
    # softplus, not oneplus: the strengths.
    ("oneplus_strengths", 0, 3, "read.strength"),
    # topk's order among the N equal usages of step 0 is not the stable one.
    ("stable_sort", 0, 5, "allocation.order"),
    # the 1e-6 usage floor moves a_0 by 1e-6.
    ("no_usage_floor", 0, 5, "allocation"),
    # modes read as (backward, forward, content): the step-0 read weighting.
    ("read_mode_order", 0, 13, "read.weight"),
    # the controller never sees the reads of the step before: step 1's controller.
    ("feed_reads_back", 1, 1, "controller"),
])
def test_each_difference_is_found_where_it_is(case, name, step, stage, entry):
    r = run_case(PyTorchDNC("cpu", "float64", without(name), "wrapped"), case, "float64",
                 paths=False)
    assert r.status == "fail"
    d = r.divergence
    assert (d.step, d.stage.number, d.name) == (step, stage, entry), r.first_divergence


def test_partial_trace_has_what_hooks_expose(case):
    r = make_backend("cpu", "float64", trace="hooks").run(
        case.config, case.params, case.inputs, case.targets, case.mask,
        want_trace=True, want_grads=False)
    assert set(r.trace) == {"controller", "interface", "usage", "write.weight", "memory",
                            "link", "precedence", "read.weight", "reads", "logits"}
    for name, value in r.trace.items():
        assert value.shape == case.expected["float64"]["trace"][name].shape, name


def test_gradients_are_finite_even_at_exact_zero_usage():
    # The `free` regime: usage exactly 0 by freeing; no floor (all patches), no NaN.
    free = load_case(case_path("dnc-copy-ff-free"))
    r = make_backend("cpu", "float64").run(free.config, free.params, free.inputs,
                                           free.targets, free.mask, want_trace=False,
                                           want_grads=True)
    assert all(np.all(np.isfinite(g)) for g in r.grads.values())


def test_patch_selection():
    assert select("none") == ()
    assert [p.name for p in select("2")] == list(NAMES[:2])
    assert [p.name for p in select(f"{NAMES[3]},{NAMES[0]}")] == [NAMES[0], NAMES[3]]
    with pytest.raises(ValueError, match="unknown patch"):
        select("no_such_patch")
