"""The harness in a low-precision mode: the mode's baseline, its bound, what it leaves
unchecked (docs/precision.md)."""

import copy

import numpy as np
import pytest

from diffmem.backends import Result, load_backend
from diffmem.harness.compare import PASS, Mark, compare_case, cover_runs, run_case
from diffmem.harness.testing import tiny_case
from diffmem.harness.tolerance import Tolerance

MODES = ("tf32", "bfloat16", "float16")


@pytest.fixture(scope="module")
def case():
    return tiny_case(steps=3, read_heads=2, write_heads=2)   # as test_backend_precision.py


def as_result(run):
    run = copy.deepcopy(run)
    return Result(logits=run["logits"], loss=run["loss"], grads=run["grads"],
                  grad_inputs=run["grad_inputs"], trace=run["trace"])


def test_mode_runs_are_made_on_first_use(case):
    fresh = tiny_case(steps=2)
    assert set(fresh.expected) == {"float64", "float32"}
    fresh.expected["bfloat16"]
    assert set(fresh.expected) == {"float64", "float32", "bfloat16"}
    with pytest.raises(KeyError):
        fresh.expected["int8"]


@pytest.mark.parametrize("mode", MODES)
def test_the_emulated_run_itself_passes_at_one_over_k(case, mode):
    """Its error is the baseline error itself: ratio err / (k err + floors) <= 1 / k."""
    r = compare_case(case, as_result(case.expected[mode]), mode, Tolerance())
    k = Tolerance().constants(mode)[0]
    assert r.status == PASS and 0.5 / k < r.worst_ratio <= 1.0 / k


@pytest.mark.parametrize("mode", MODES)
def test_the_bound_is_k_times_the_modes_error_plus_floors(case, mode):
    """An error of 0.5 and then 2 bounds on one logit, the bound derived by hand."""
    k, rtol, atol = Tolerance().constants(mode)
    exp64 = case.expected["float64"]["logits"]
    err = np.abs(case.expected[mode]["logits"] - exp64).max()
    bound = k * err + rtol * np.abs(exp64).max() + atol
    for factor, status in ((0.5, PASS), (2.0, "fail")):
        result = as_result(case.expected["float64"])
        result.logits = (exp64 + 0.0).astype(np.float32).astype(np.float64)
        result.logits[0, 0, 0] = exp64[0, 0, 0] + factor * bound
        r = compare_case(case, result, mode, Tolerance())
        assert r.check("logits")[0] == status, r.check("logits")[1]


def test_a_float32_result_is_held_to_the_mode_bound_not_float32s(case):
    """A bf16-sized error fails float32 and passes bfloat16."""
    result = as_result(case.expected["bfloat16"])
    assert compare_case(case, result, "float32", Tolerance()).status == "fail"
    assert compare_case(case, result, "bfloat16", Tolerance()).status == PASS


def test_mode_constants_and_user_k():
    for mode in MODES:
        k, rtol, atol = Tolerance().constants(mode)
        assert k > 1 and rtol > 0 and atol > 0
        assert Tolerance(k=3.0).constants(mode)[0] == 3.0
    with pytest.raises(ValueError, match="tf32"):
        Tolerance().constants("float8")


def test_a_baseline_beyond_float16s_range_is_not_checked_never_passed(case):
    broken = copy.deepcopy(case)
    broken.expected["float16"]["grads"]["init.memory"][0, 0] = np.inf
    result = as_result(case.expected["float16"])
    result.grads["init.memory"][0, 0] = np.inf     # what a plain fp16 kernel gives there
    r = compare_case(broken, result, "float16", Tolerance())
    report = next(t for t in r.tensors if t.tensor == "grads/init.memory")
    assert report.status == Mark.NOISE_ONLY and "not finite" in report.message
    assert r.status == "incomplete"    # never a pass on its own
    r64 = compare_case(case, as_result(case.expected["float64"]), "float64", Tolerance())
    cover_runs([r, r64])               # a float64 run of another kernel vouches for nothing
    assert r.status == "incomplete"
    r.same_kernel = r64.same_kernel = True
    cover_runs([r, r64])               # the same kernel's float64 run checked it: a pass
    assert r.status == PASS
    # in float32 the same Inf is a failure of its own
    assert compare_case(case, result, "float32", Tolerance()).status == "fail"


@pytest.mark.parametrize("mode", MODES)
def test_bundled_backends_pass_in_each_mode(case, mode):
    for backend in ("torch", "jax"):
        r = run_case(load_backend(backend, "cpu", mode), case, mode)
        assert r.status == PASS, (backend, r.first_divergence)


def test_the_baseline_is_per_element_the_farther_product_style():
    from diffmem.harness.baselines import farther
    exp = {"a": np.array([0.0, 1.0, 2.0, 3.0])}
    one = {"a": np.array([0.1, 1.0, 2.5, np.inf])}
    two = {"a": np.array([-0.2, 1.01, 2.1, 3.0])}
    got = farther(exp, [one, two])["a"]
    np.testing.assert_array_equal(got, [-0.2, 1.01, 2.5, np.inf])


def test_bfloat16_baseline_covers_both_styles(case):
    """Its error is at least each style's own, element by element."""
    from diffmem.models.ntm import reference as ntm
    exp64 = case.expected["float64"]["trace"]["interface"]
    base = np.abs(case.expected["bfloat16"]["trace"]["interface"] - exp64)
    for style in ("format", "float32"):
        run = ntm.run_batch(case.config, case.params, case.inputs, case.targets, case.mask,
                            dtype="bfloat16", want_grads=False, product_results=style)
        assert (base >= np.abs(run["trace"]["interface"] - exp64)).all()
