"""Comparison, localisation and tolerance, on cases made from the reference on the fly.

The "backend results" here are the reference's own results with a perturbation placed by
hand, so the expected verdict (which tensor, which element, which step, stage and head)
is known independently of the code under test.
"""

import copy

import numpy as np
import pytest

from diffmem.models.family import GRADIENT_ONLY, LOSS
from diffmem.models.ntm.reference.layout import STAGES
from diffmem.harness import tolerance as tol_mod
from diffmem.harness.compare import (ERROR, FAIL, NOT_COMPARED, PASS, REQUIRED, Mark,
                                     compare_case, run_case)
from diffmem.harness.testing import tiny_case
from diffmem.harness.verdict import Divergence
from diffmem.harness.tolerance import Tolerance, make_tolerance, parse_override


@pytest.fixture(scope="module")
def case():
    return tiny_case("tiny", seed=3, batch=2, steps=5, read_heads=2)


def exact(case, dtype="float64"):
    """The reference's own results, as a fresh dict a test may edit."""
    return copy.deepcopy(case.expected[dtype])


def check(case, result, dtype="float64", tolerance=None):
    return compare_case(case, result, dtype, tolerance or Tolerance(), backend_name="fake")


def tensor(res, name):
    return next(t for t in res.tensors if t.tensor == name)


# ---------------------------------------------------------------- passing

def test_reference_itself_passes_float64_with_zero_error(case):
    res = check(case, exact(case))
    assert res.status == PASS and res.worst_ratio == 0.0 and res.divergence is None
    assert all(res.check(c)[0] == PASS for c in REQUIRED + ("trace",))


def test_reference_float32_passes_within_one_over_k(case):
    # A float32 backend as good as the reference's float32 run: error = err32, so the
    # ratio is err32 / (k err32 + floor) <= 1/k.
    res = check(case, exact(case, "float32"), "float32")
    assert res.status == PASS
    assert res.worst_ratio <= 1.0 / tol_mod.K_FLOAT32 + 1e-12


# ---------------------------------------------------------------- values and where

def test_worst_element_is_named_with_batch_step_and_index(case):
    r = exact(case)
    r["logits"][1, 3, 1] += 0.5
    res = check(case, r)
    t = tensor(res, "logits")
    assert t.status == FAIL and t.kind == "value"
    assert t.where == {"b": 1, "t": 3, "index": [1]}
    assert t.max_abs == pytest.approx(0.5)
    assert t.rel == pytest.approx(0.5 / np.abs(case.expected["float64"]["logits"]).max())
    assert "1 of 20 elements" in t.message and "b=1 t=3 index=(1)" in t.message
    assert res.check("logits")[0] == FAIL and res.check("loss")[0] == PASS


def test_gradient_element_named_by_parameter_index(case):
    r = exact(case)
    r["grads"]["interface.weight"][4, 2] -= 1.0
    res = check(case, r)
    t = tensor(res, "grads/interface.weight")
    assert t.where == {"index": [4, 2]} and t.status == FAIL
    assert res.divergence.stage == GRADIENT_ONLY
    assert "only gradients differ, worst first: grads/interface.weight" in res.first_divergence


def test_loss_only_difference_is_localised_to_the_loss(case):
    r = exact(case)
    r["loss"][0] *= 1.01
    res = check(case, r)
    assert res.divergence.stage == LOSS


# ---------------------------------------------------------------- localisation

def perturb_trace(case, *edits):
    r = exact(case)
    for name, index, delta in edits:
        r["trace"][name][index] += delta
    return r


def test_first_divergence_line_names_step_stage_and_head(case):
    # w_shifted of write head 0 at t=2 (stage 6); a later stage at t=2 and everything at
    # t=3 also wrong, as a real bug's downstream effects would be.
    r = perturb_trace(case, ("write.w_shifted", (0, 2, 0, 1), 1e-3),
                      ("memory", (0, 2, 1, 1), 1e-3), ("controller", (1, 3, 0), 1e-3))
    res = check(case, r)
    first, evidence = res.first_divergence.split("\n")
    assert first == (
        "first divergence: t=2 stage 6 write.w_shifted head 0 (compared before it and "
        "matched: steps 0-1 all stages, step 2 stages 1-5)")
    # The evidence at the divergence point: the perturbed element, its error and bound.
    assert evidence.startswith("  at the divergence: b=0 t=2 head=0 index=(1): got ")
    assert "|error| 0.001 vs bound" in evidence
    assert res.divergence == Divergence(res.first_divergence, STAGES[6], step=2,
                                        name="write.w_shifted", head=0)
    # The trace check's message starts with that line and lists the first tensor first.
    status, message = res.check("trace")
    lines = message.splitlines()
    assert status == FAIL and "\n".join(lines[:2]) == res.first_divergence
    assert lines[2].startswith("trace/write.w_shifted:")


def test_earlier_step_wins_over_earlier_stage(case):
    r = perturb_trace(case, ("reads", (1, 1, 0, 2), 1e-4), ("controller", (0, 3, 1), 1e-2))
    d = check(case, r).divergence
    assert (d.step, d.stage.number, d.name, d.head) == (1, 14, "reads", 0)


def test_read_head_index_is_named(case):
    r = perturb_trace(case, ("read.weight", (1, 0, 1, 3), 1e-6))
    res = check(case, r)
    assert res.first_divergence.startswith("first divergence: t=0 stage 13 read.weight head 1 "
                                           "(compared before it and matched: step 0 stages "
                                           "1-12)")


def test_divergence_at_the_very_start(case):
    res = check(case, perturb_trace(case, ("controller", (0, 0, 0), 1e-6)))
    assert res.first_divergence.split("\n")[0].endswith(
        "(compared before it and matched: nothing comes before it)")


def test_step_one_wording(case):
    res = check(case, perturb_trace(case, ("interface", (0, 1, 0), 1e-6)))
    assert "(compared before it and matched: step 0 all stages, step 1 stage 1)" in \
        res.first_divergence


# ---------------------------------------------------------------- failures of their own kind

def test_nan_in_logits_is_its_own_failure(case):
    r = exact(case)
    r["logits"][1, 4, 0] = np.nan
    t = tensor(check(case, r), "logits")
    assert t.kind == "nonfinite" and t.status == FAIL and t.ratio == np.inf
    assert t.message.startswith("logits contain NaN at b=1 t=4 index=(0)")


def test_inf_in_trace_is_localised(case):
    r = exact(case)
    r["trace"]["write.w_content"][0, 1, 0, 2] = np.inf
    res = check(case, r)
    assert tensor(res, "trace/write.w_content").message.startswith(
        "trace/write.w_content contain Inf at b=0 t=1 head=0 index=(2)")
    assert res.divergence.step == 1 and res.divergence.stage == STAGES[4]


def test_shape_mismatch(case):
    r = exact(case)
    r["logits"] = np.swapaxes(r["logits"], 0, 1).copy()
    t = tensor(check(case, r), "logits")
    assert t.kind == "shape"
    assert "expected shape (2, 5, 2) [B, T, Y], got (5, 2, 2)" in t.message


def test_dtype_rules(case):
    r = exact(case)
    r["logits"] = r["logits"].astype(np.float32)
    t = tensor(check(case, r, "float64"), "logits")
    assert t.kind == "dtype" and "float32" in t.message and "compute and return in float64" \
        in t.message
    # A float32 backend may hand back float64 arrays.
    assert check(case, exact(case, "float32"), "float32").status == PASS
    r = exact(case)
    r["loss"] = r["loss"].astype(np.int64)
    assert tensor(check(case, r), "loss").kind == "dtype"


def test_not_a_numpy_array(case):
    r = exact(case)
    r["grad_inputs"] = r["grad_inputs"].tolist()
    t = tensor(check(case, r), "grad_inputs")
    assert t.kind == "type" and "expected a numpy array, got builtins.list" in t.message


def test_missing_and_unexpected_gradient_keys(case):
    r = exact(case)
    r["grads"]["output.bais"] = r["grads"].pop("output.bias")
    res = check(case, r)
    assert tensor(res, "grads/output.bias").kind == "missing"
    assert tensor(res, "grads/output.bais").kind == "unexpected"
    assert "misspelt" in res.check("grads")[1]


def test_a_partial_trace_is_checked_where_given_and_named_where_not(case):
    r = exact(case)
    del r["trace"]["write.gamma"]
    r["trace"]["my.extra"] = np.zeros(3)
    res = check(case, r)
    assert tensor(res, "trace/write.gamma").status == Mark.NOT_COMPARED
    assert not any(t.tensor == "trace/my.extra" for t in res.tensors)
    status, message = res.check("trace")
    assert status == PASS and "not compared: trace/write.gamma" in message
    assert res.status == PASS   # the trace localises; outputs and gradients decide


def test_missing_required_parts_fail_by_name(case):
    r = exact(case)
    r["grads"] = r["grad_inputs"] = None
    res = check(case, r)
    assert res.status == FAIL
    assert tensor(res, "grads").kind == "missing" and "required" in res.check("grads")[1]
    assert tensor(res, "grad_inputs").kind == "missing"


def test_no_trace_at_all_is_not_compared_never_passed_as_a_check(case):
    r = exact(case)
    r["trace"] = None
    res = check(case, r)
    assert res.check("trace")[0] == NOT_COMPARED and "not returned" in res.check("trace")[1]
    assert res.status == PASS


def test_without_a_trace_a_failure_is_not_localised(case):
    r = exact(case)
    r["trace"] = None
    r["logits"][0, 0, 0] += 1.0
    res = check(case, r)
    assert res.divergence.stage is None and "no trace" in res.first_divergence


def test_missing_logits_fail(case):
    r = exact(case)
    r["logits"] = None
    t = tensor(check(case, r), "logits")
    assert t.kind == "missing" and "required" in t.message


def test_result_of_the_wrong_type_is_an_error_not_a_crash(case):
    res = check(case, (1, 2))
    assert res.status == ERROR and "expected a diffmem.backends.Result" in res.error
    assert all(res.check(c)[0] == ERROR for c in REQUIRED)


def test_backend_exception_is_caught_with_type_and_frame(case):
    class Raising:
        name = "raising"

        def run(self, *a, **k):
            raise RuntimeError("CUDA error: an illegal memory access")
    res = run_case(Raising(), case, "float64")
    assert res.status == ERROR
    assert "RuntimeError: CUDA error: an illegal memory access" in res.error
    assert "test_harness_compare.py" in res.error and "in run" in res.error


def test_backend_cannot_corrupt_the_case(case):
    before = case.params["controller.weight"].copy()

    class Scribbler:
        name = "scribbler"

        def run(self, config, params, inputs, *a, **k):
            params["controller.weight"][:] = 0.0
            inputs[:] = 0.0
            return exact(case)
    run_case(Scribbler(), case, "float64")
    np.testing.assert_array_equal(case.params["controller.weight"], before)
    assert np.any(case.inputs != 0)


# ---------------------------------------------------------------- tolerance

def test_bound_formula():
    t = Tolerance()
    k32, r32, a32 = t.constants("float32")
    c64, r64, a64 = t.constants("float64")
    assert r64 <= 1e-8   # HARNESS.md: float64 tight, order 1e-9 relative
    assert t.bound("logits", "float32", 2.0, 1e-6) == pytest.approx(k32 * 1e-6 + r32 * 2.0 + a32)
    assert t.bound("logits", "float64", 2.0, 1e-6) == pytest.approx(c64 * 1e-6 + r64 * 2.0 + a64)
    np.testing.assert_allclose(t.bound("trace/memory", "float32", 1.0, [0.0, 1e-6]),
                               [r32 + a32, k32 * 1e-6 + r32 + a32])


def test_overrides_global_and_per_tensor(case):
    r = exact(case)
    r["grads"]["output.bias"] *= 1 + 1e-4
    assert check(case, r).status == FAIL
    assert check(case, r, tolerance=make_tolerance(overrides=["grads/*=1e-3"])).status == PASS
    assert check(case, r, tolerance=make_tolerance(overrides=["grads/init.*=1e-3"])).status \
        == FAIL
    assert check(case, r, tolerance=make_tolerance(rtol=1e-3)).status == PASS
    # k applies to float32 only; float64 keeps its own constant.
    assert make_tolerance(k=100.0).constants("float64")[0] == tol_mod.C_FLOAT64


@pytest.mark.parametrize("bad", ["grads/*", "=1e-3", "grads/*=x", "grads/*=-1"])
def test_bad_override_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="expected PATTERN=RTOL"):
        parse_override(bad)


def test_bad_global_override():
    with pytest.raises(ValueError, match="tolerance rtol: expected a non-negative number"):
        make_tolerance(rtol=-1.0)
