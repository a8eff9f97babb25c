"""The reference's emulated low-precision modes (reference/precision.py)."""

import numpy as np
import pytest

from diffmem.models.ntm import reference as ntm
from diffmem.reference import precision
from diffmem.reference.precision import emulating, matmul, matmul_operand, outer, round_to


def nearest_with_bits(x, significant_bits):
    """Independent rounding: x = m 2^e with m in [0.5, 1); keep ``significant_bits`` of
    m by numpy's round (ties to even)."""
    m, e = np.frexp(np.asarray(x, dtype=np.float64))
    scale = 2.0 ** significant_bits
    return np.ldexp(np.round(m * scale) / scale, e).astype(np.float32)


def sample(seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(2000) * 10.0 ** rng.integers(-20, 20, 2000)).astype(np.float32)
    # exact ties of the 10- and 7-bit mantissas, both parities of the kept last bit
    ties = [1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -(1 + 2.0 ** -8)]
    return np.concatenate([x, np.array(ties, dtype=np.float32), np.zeros(1, np.float32)])


@pytest.mark.parametrize("mode, bits", [("tf32", 11), ("bfloat16", 8)])
def test_round_to_is_nearest_even_with_the_format_mantissa(mode, bits):
    x = sample()
    np.testing.assert_array_equal(round_to(x, mode), nearest_with_bits(x, bits))


def test_ties_go_to_even():
    assert round_to(np.float32(1 + 2.0 ** -11), "tf32") == 1.0
    assert round_to(np.float32(1 + 3 * 2.0 ** -11), "tf32") == np.float32(1 + 2.0 ** -9)
    assert round_to(np.float32(1 + 2.0 ** -8), "bfloat16") == 1.0


def test_bfloat16_and_float16_match_torch_casts():
    torch = pytest.importorskip("torch")
    x = sample(1)
    for mode, fmt in (("bfloat16", torch.bfloat16), ("float16", torch.float16)):
        want = torch.from_numpy(x).to(fmt).to(torch.float32).numpy()
        np.testing.assert_array_equal(round_to(x, mode), want)


def test_inf_and_nan_pass_through():
    x = np.array([np.inf, -np.inf, np.nan], dtype=np.float32)
    for mode in precision.LOW_PRECISION:
        got = round_to(x, mode)
        assert got[0] == np.inf and got[1] == -np.inf and np.isnan(got[2])


def test_outside_a_mode_operands_are_untouched_and_the_mode_is_restored():
    x = np.float32([1 + 2.0 ** -20])
    assert matmul_operand(x) is x
    with pytest.raises(RuntimeError):
        with emulating("bfloat16"):
            assert matmul_operand(x)[0] == 1.0
            raise RuntimeError("inside")
    assert matmul_operand(x) is x


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="precision mode"):
        round_to(np.zeros(2, np.float32), "int8")
    cfg = ntm.NTMConfig(input_size=2, output_size=1, controller_size=3, memory_rows=2,
                        memory_width=2)
    x = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="dtype"):
        ntm.run_batch(cfg, ntm.init_params(cfg, 0), x, np.zeros((1, 2, 1)), np.ones((1, 2)),
                      dtype="int8")


@pytest.mark.parametrize("mode", ["tf32", "bfloat16", "float16"])
def test_a_mode_rounds_the_controller_product_operands(mode):
    """Step 0's controller output, derived by hand: tanh(round(W) round(u) + b) with u =
    [x_0; r_-1], product and sum in float32, the product's result rounded too in bf16
    and fp16.  The float32 run differs from it."""
    cfg = ntm.NTMConfig(input_size=4, output_size=2, controller_size=6, memory_rows=5,
                        memory_width=3)
    params = ntm.init_params(cfg, 3)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 4))
    out = ntm.run_batch(cfg, params, x, rng.uniform(size=(1, 2, 2)), np.ones((1, 2)),
                        dtype=mode, want_grads=False)
    f32 = {k: v.astype(np.float32) for k, v in params.items()}
    u = np.concatenate([x[0, 0].astype(np.float32), f32["init.read"].reshape(-1)])
    product = round_to(f32["controller.weight"], mode) @ round_to(u, mode)
    if mode != "tf32":
        product = round_to(product, mode)
    want = np.tanh(product + f32["controller.bias"])
    got = out["trace"]["controller"][0, 0]
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=2e-7)
    exact = np.tanh(f32["controller.weight"] @ u + f32["controller.bias"])
    assert np.abs(exact - want).max() > 1e-5   # the rounding is visible at all


def test_modes_order_by_precision_and_float32_is_unchanged():
    case_cfg = ntm.NTMConfig(input_size=3, output_size=2, controller_size=8, memory_rows=6,
                             memory_width=4, read_heads=2, write_heads=2)
    params = ntm.init_params(case_cfg, 1)
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((2, 6, 3)), rng.uniform(size=(2, 6, 2)), np.ones((2, 6)))
    runs = {d: ntm.run_batch(case_cfg, params, *data, dtype=d)
            for d in ("float64", "float32", "tf32", "bfloat16", "float16")}
    err = {d: np.abs(runs[d]["logits"] - runs["float64"]["logits"]).max() for d in runs}
    assert err["float32"] < err["tf32"] < err["bfloat16"]
    assert err["float16"] < err["bfloat16"]   # fp16 keeps tf32's 10 mantissa bits
    again = ntm.run_batch(case_cfg, params, *data, dtype="float32")
    np.testing.assert_array_equal(again["logits"], runs["float32"]["logits"])
    for d in ("tf32", "bfloat16", "float16"):
        assert runs[d]["logits"].dtype == np.float32
        assert runs[d]["grads"]["controller.weight"].dtype == np.float32


def test_matmul_and_outer_are_plain_outside_a_mode_and_round_inside():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    np.testing.assert_array_equal(matmul(a, b), a @ b)
    np.testing.assert_array_equal(outer(a[0], b[:, 0]), np.outer(a[0], b[:, 0]))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    with emulating("tf32"):
        np.testing.assert_array_equal(matmul(a32, b32),
                                      round_to(a32, "tf32") @ round_to(b32, "tf32"))
    with emulating("bfloat16"):
        want = round_to(round_to(a32, "bfloat16") @ round_to(b32, "bfloat16"), "bfloat16")
        np.testing.assert_array_equal(matmul(a32, b32), want)
        np.testing.assert_array_equal(outer(a32[0], b32[:, 0]),
                                      round_to(np.outer(round_to(a32[0], "bfloat16"),
                                                        round_to(b32[:, 0], "bfloat16")),
                                               "bfloat16"))
