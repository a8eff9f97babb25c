"""Every bundled backend computes in the precision it claims, and leaves the process's
own precision settings as they were (backends/*/precision_modes.py)."""

import re

import numpy as np
import pytest

from diffmem.backends import load_backend
from diffmem.models.ntm.batched import BatchedNTM
from diffmem.harness.testing import tiny_case
from diffmem.reference.precision import round_to

jax = pytest.importorskip("jax")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def case():
    return tiny_case(steps=3, read_heads=2, write_heads=2)


# ---------------------------------------------------------------- JAX

def lowered_text(case, dtype):
    from diffmem.backends.driver import check_run_args
    from diffmem.backends.jax.driver import lower_program
    model, params, inputs, targets, mask = check_run_args(
        case.config, case.params, case.inputs, case.targets, case.mask, dtype)
    return lower_program(BatchedNTM, model.config, True, True, (params, inputs, targets, mask),
                         dtype).as_text()


def dots(text):
    return [line for line in text.splitlines() if "dot_general" in line]


def test_jax_float32_program_has_every_dot_at_highest(case):
    found = dots(lowered_text(case, "float32"))
    assert len(found) >= 6, "expected the forward and backward products"
    for line in found:
        assert "precision = [HIGHEST, HIGHEST]" in line, line


def test_jax_bfloat16_and_float16_feed_their_products_in_the_format(case):
    """The 7 products of a step (controller, interface, write cosine, write add, read
    cosine, read, output) take both operands in the format and give float32; the
    backward's transposed products are float32 (cotangent float32, operands as cast)."""
    for dtype, short in (("bfloat16", "bf16"), ("float16", "f16")):
        in_format = 0
        for line in dots(lowered_text(case, dtype)):
            operands = re.search(r"\((tensor<[^)]*)\)\s*->", line).group(1)
            assert operands.count(f"x{short}>") in (0, 2), line
            assert line.rstrip().endswith("xf32>"), line
            in_format += operands.count(f"x{short}>") == 2
        assert in_format >= 7


def test_jax_tf32_on_cpu_rounds_operands_with_reduce_precision(case):
    text = lowered_text(case, "tf32")
    assert text.count("stablehlo.reduce_precision") >= 14   # 2 operands x 7 products
    assert "format = e8m10" in text and "e8m7" not in text
    for line in dots(text):
        assert "HIGHEST" in line, line


def test_jax_runs_leave_the_global_matmul_precision_alone(case):
    before = jax.config.jax_default_matmul_precision
    for dtype in ("float32", "bfloat16"):
        load_backend("jax", "cpu", dtype).run(case.config, case.params, case.inputs,
                                              case.targets, case.mask, want_trace=False,
                                              want_grads=False)
    assert jax.config.jax_default_matmul_precision == before
    # a user's own choice is kept too, and the backend still compiles at HIGHEST inside it
    with jax.default_matmul_precision("bfloat16"):
        for line in dots(lowered_text(case, "float32")):
            assert "HIGHEST" in line
        assert jax.config.jax_default_matmul_precision == "bfloat16"


# ---------------------------------------------------------------- torch

def torch_settings():
    from diffmem.backends.torch.precision_modes import settings
    return settings()


def full_float32(values):
    """Whether torch settings say: no TF32 for cuBLAS / cuDNN, no bfloat16 for oneDNN."""
    if "cuda.matmul.fp32_precision" in values:
        return (values["cuda.matmul.fp32_precision"] == values["cudnn.fp32_precision"]
                == values.get("mkldnn.matmul.fp32_precision", "ieee") == "ieee")
    return (values["float32_matmul_precision"] == "highest"
            and not values["cuda.matmul.allow_tf32"] and not values["cudnn.allow_tf32"])


class Spy(BatchedNTM):
    """Records the torch settings in force while the step runs; raises when asked to."""
    seen = []
    fail = False

    def controller(self, params, u, state):
        Spy.seen.append(torch_settings())
        if Spy.fail:
            raise RuntimeError("kernel failure inside the run")
        return super().controller(params, u, state)


def run_spy(case, dtype="float32"):
    from diffmem.backends.torch import make_backend
    Spy.seen = []
    return make_backend("cpu", dtype, model_cls=Spy).run(
        case.config, case.params, case.inputs, case.targets, case.mask, want_trace=False,
        want_grads=True)


USERS = {   # settings a user may have made before calling diffmem
    "defaults": lambda: None,
    "medium": lambda: torch.set_float32_matmul_precision("medium"),
    "tf32 flags": lambda: setattr(torch.backends.cuda.matmul, "allow_tf32", True),
    "cudnn off": lambda: setattr(torch.backends.cudnn, "allow_tf32", False),
}


@pytest.fixture(params=sorted(USERS))
def user_settings(request):
    """A user's settings, put back afterwards (exactly, through the module under test's
    own writer, which test_..._are_restored checks)."""
    from diffmem.backends.torch.precision_modes import _set
    saved = torch_settings()
    USERS[request.param]()
    yield torch_settings()
    _set(saved)
    assert torch_settings() == saved


def test_torch_run_has_tf32_off_inside_and_restores_the_users_settings(case, user_settings):
    run_spy(case)
    assert Spy.seen and all(full_float32(s) for s in Spy.seen)
    assert torch_settings() == user_settings
    if not full_float32(user_settings):
        assert Spy.seen[0] != user_settings   # it did change them, for the run only


def test_torch_settings_are_restored_after_an_exception(case, user_settings):
    Spy.fail = True
    try:
        with pytest.raises(RuntimeError, match="kernel failure"):
            run_spy(case)
    finally:
        Spy.fail = False
    assert len(Spy.seen) == 1 and full_float32(Spy.seen[0])
    assert torch_settings() == user_settings


def test_torch_settings_set_through_the_newer_api_are_restored(case):
    matmul = torch.backends.cuda.matmul
    if not hasattr(matmul, "fp32_precision"):
        pytest.skip(f"torch {torch.__version__} has no fp32_precision")
    from diffmem.backends.torch.precision_modes import _set
    saved = torch_settings()
    try:
        matmul.fp32_precision = "tf32"
        before = torch_settings()
        run_spy(case)
        assert torch_settings() == before and matmul.fp32_precision == "tf32"
    finally:
        _set(saved)


def test_torch_tf32_rounding_matches_the_reference_emulation():
    from diffmem.backends.torch.precision_modes import round_tf32
    rng = np.random.default_rng(0)
    x = np.concatenate([(rng.standard_normal(4000) * 10.0 ** rng.integers(-30, 30, 4000)),
                        [1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, -(1 + 2.0 ** -11), 0.0, np.inf,
                         -np.inf]]).astype(np.float32)
    got = round_tf32(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, round_to(x, "tf32"))


# ---------------------------------------------------------------- both

@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("mode", ["tf32", "bfloat16", "float16"])
def test_low_precision_backends_err_like_their_emulated_reference(case, backend, mode):
    """The mode really is lower than float32, and of the emulation's size (within 10x):
    the logits' and gradients' errors from float64."""
    exp64, emulated = case.expected["float64"], case.expected[mode]
    # (trace and gradients, as a check runs it: the compiled program is shared)
    r = load_backend(backend, "cpu", mode).run(case.config, case.params, case.inputs,
                                               case.targets, case.mask, want_trace=True,
                                               want_grads=True)
    assert r.logits.dtype == np.float32
    for got, want, base in ((r.logits, exp64["logits"], emulated["logits"]),
                            (r.grads["output.weight"], exp64["grads"]["output.weight"],
                             emulated["grads"]["output.weight"])):
        err, base_err = np.abs(got - want).max(), np.abs(base - want).max()
        f32_err = np.abs(case.expected["float32"]["logits"] - exp64["logits"]).max()
        assert err > 10 * f32_err
        assert base_err / 10 < err < 10 * base_err


def test_unknown_dtype_is_refused_by_name():
    with pytest.raises(ValueError, match="float16"):
        load_backend("torch", "cpu", "float8")
