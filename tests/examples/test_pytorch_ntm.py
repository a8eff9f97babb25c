"""The pytorch-ntm adapter (examples/pytorch_ntm): diffmem finds real differences in real code.

Needs loudinthecloud/pytorch-ntm on PYTHONPATH (it is not on PyPI and never copied here):
    git clone https://github.com/loudinthecloud/pytorch-ntm /tmp/pytorch-ntm
    PYTHONPATH=/tmp/pytorch-ntm pytest tests/examples/test_pytorch_ntm.py
"""

import pathlib
import sys

import pytest

pytest.importorskip("ntm.aio", reason="pytorch-ntm is not importable: clone "
                    "https://github.com/loudinthecloud/pytorch-ntm and put it on PYTHONPATH")

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from diffmem.backends.protocol import Unsupported  # noqa: E402
from diffmem.harness.compare import run_case  # noqa: E402
from diffmem.harness.fixture_io import case_path, load_case  # noqa: E402
from examples.pytorch_ntm.adapter import PyTorchNTM, make_backend  # noqa: E402
from examples.pytorch_ntm.patches import NAMES, PATCHES, select  # noqa: E402

CASES = ("ntm-copy-lstm-init", "ntm-random-lstm-n2-init")


@pytest.fixture(scope="module")
def cases():
    return [load_case(case_path(n)) for n in CASES]


def without(name):
    return tuple(p for p in PATCHES if p.name != name)


def test_all_patches_pass_in_float64(cases):
    backend = make_backend("cpu", "float64", patches="all", trace="wrapped")
    for case in cases:
        r = run_case(backend, case, "float64")
        assert r.status == "pass", (case.name, r.first_divergence)


@pytest.mark.parametrize("name,step,stage,entry", [
    # pytorch-ntm's write head passes the add slice raw (NTM.md: tanh): the step-0 add.
    ("add_tanh", 0, 3, "write.add"),
    # pytorch-ntm starts every head from an all-zero weight: the step-0 gated weight.
    ("init_weights", 0, 5, "write.w_gated"),
    # EncapsulatedNTM reads before it writes: the step-0 read addresses the old memory.
    ("write_then_read", 0, 10, "read.w_content"),
])
def test_each_difference_is_found_where_it_is(cases, name, step, stage, entry):
    r = run_case(PyTorchNTM("cpu", "float64", without(name), "wrapped"), cases[0], "float64")
    assert r.status == "fail"
    d = r.divergence
    assert (d.step, d.stage.number, d.name) == (step, stage, entry), r.first_divergence


def test_unpatched_buffers_are_not_learned(cases):
    r = run_case(PyTorchNTM("cpu", "float64", without("learned_init"), "wrapped"), cases[0],
                 "float64", repeat=False)   # the first call's tensors, not the repeat's too
    failed = {t.tensor for t in r.tensors if t.status == "fail"}
    assert failed == {"grads/init.memory", "grads/init.read"}


def test_unsupported_configurations_raise(cases):
    ff = load_case(case_path("ntm-copy-ff-init"))
    backend = make_backend("cpu", "float64")
    assert "LSTM" in backend.supports(ff.config)
    assert backend.supports(cases[0].config) is None
    with pytest.raises(Unsupported, match="LSTM controller"):
        backend.run(ff.config, ff.params, ff.inputs, ff.targets, ff.mask,
                    want_trace=False, want_grads=False)


def test_partial_trace_has_only_what_hooks_expose(cases):
    case = cases[0]
    r = make_backend("cpu", "float64", trace="hooks").run(
        case.config, case.params, case.inputs, case.targets, case.mask,
        want_trace=True, want_grads=False)
    assert set(r.trace) == {"controller", "controller_cell", "interface", "write.weight",
                            "memory", "read.weight", "reads", "logits"}
    for name, value in r.trace.items():
        assert value.shape == case.expected["float64"]["trace"][name].shape, name


def test_patch_selection():
    assert select("none") == ()
    assert [p.name for p in select("2")] == list(NAMES[:2])
    assert [p.name for p in select(f"{NAMES[3]},{NAMES[0]}")] == [NAMES[0], NAMES[3]]
    with pytest.raises(ValueError, match="unknown patch"):
        select("no_such_patch")


def test_walkthrough_ends_passing_and_names_every_patch():
    import io

    from examples.pytorch_ntm.walkthrough import render, walkthrough
    study = walkthrough(pattern="ntm-random-lstm-n2-init", partial=False, log=io.StringIO())
    assert study["summary"][0]["passed"] == 0          # pytorch-ntm as published fails
    assert study["summary"][-1]["passed"] == 1         # all patches: passes in float64
    assert [r.status for r in study["results32"]] == ["pass"]
    text = render(study, "wrapped")
    for name in NAMES:
        assert f"`{name}`" in text
