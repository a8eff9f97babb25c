"""dnc/1 in the emulated low-precision modes (DNC.md "Numerics", last bullet; open
question 2): the reference's rounded products against torch's own bf16 / fp16 casts, the
batched form's products through a mode table's ``matmul``, the per-mode admission and
what the harness holds to the noise bound past a near-tie, on the bundled fixtures."""

import copy

import numpy as np
import pytest
import torch
from autograd import grad

from diffmem.backends import Result, load_backend
from diffmem.backends.torch.ops import TorchOps
from diffmem.harness.compare import PASS, Mark, compare_case, cover_runs, run_case
from diffmem.harness.fixture_io import case_path, load_case
from diffmem.harness.tolerance import Tolerance
from diffmem.models.dnc import FAMILY
from diffmem.models.dnc import cases as C
from diffmem.models.dnc import reference as R
from diffmem.models.dnc.batched import BatchedDNC
from diffmem.models.dnc.config import DNCConfig
from diffmem.models.dnc.layout import ALLOCATION
from diffmem.reference.precision import emulating

MODES = ("tf32", "bfloat16", "float16")
# Cases whose every allocation decision is exact (freeing to 0, usages 0 or 1, one row):
# no near-tie for a mode to blur.  The zero-state cases split their (N-1)-way tie at t = 1
# into gaps of ~1e-5 of usages ~0.1 at t = 2, inside every mode's scaled gap.
EXACT = ("dnc-copy-ff-free", "dnc-copy-lstm-full", "dnc-random-ff-n1")


@pytest.fixture(scope="module")
def fixtures():
    return {name: load_case(case_path(name))
            for name in EXACT + ("dnc-copy-ff-init", "dnc-random-ff-state")}


def as_result(run):
    run = copy.deepcopy(run)
    return Result(logits=run["logits"], loss=run["loss"], grads=run["grads"],
                  grad_inputs=run["grad_inputs"], trace=run["trace"])


def _torch_cast(x, fmt):
    return torch.from_numpy(np.asarray(x, np.float32)).to(fmt).to(torch.float32).numpy()


# ---------------------------------------------------------------- the reference

@pytest.mark.parametrize("mode,fmt", [("bfloat16", torch.bfloat16), ("float16", torch.float16)])
def test_a_rounded_product_and_its_gradients_are_formed_in_the_format(mode, fmt):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 5)).astype(np.float32)
    b = rng.standard_normal((2, 5, 4)).astype(np.float32)
    g = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ar, br, gr = (_torch_cast(v, fmt) for v in (a, b, g))
    with emulating(mode, "format"):
        got = R.rounded_product(a, b)
        ga, gb = grad(lambda a, b: (R.rounded_product(a, b) * g).sum(), (0, 1))(a, b)
    np.testing.assert_array_equal(got, _torch_cast(ar @ br, fmt))
    np.testing.assert_array_equal(ga, _torch_cast(gr @ np.swapaxes(br, 1, 2), fmt))
    np.testing.assert_array_equal(gb, _torch_cast(np.swapaxes(ar, 1, 2) @ gr, fmt))
    with emulating(mode, "float32"):          # a float32 accumulator's result is kept
        np.testing.assert_array_equal(R.rounded_product(a, b), ar @ br)


def test_a_mode_rounds_what_float32_does_not_and_stays_near_float64(fixtures):
    c = fixtures["dnc-copy-ff-free"]
    u64 = c.expected["float64"]["trace"]["usage"]
    err32 = np.abs(c.expected["float32"]["trace"]["reads"] - c.expected["float64"]["trace"]["reads"])
    for mode, eps in (("tf32", 2.0 ** -11), ("bfloat16", 2.0 ** -8)):
        run = R.run_batch(c.config, c.params, c.inputs, c.targets, c.mask, dtype=mode,
                          want_grads=False)
        assert run["logits"].dtype == np.float32
        err = np.abs(run["trace"]["reads"] - c.expected["float64"]["trace"]["reads"])
        assert err.max() > 10 * err32.max()           # the products were rounded ...
        assert err.max() < 100 * eps * np.abs(c.expected["float64"]["trace"]["reads"]).max()
        assert np.array_equal(run["trace"]["allocation.order"],   # ... the sort unmoved
                              c.expected["float64"]["trace"]["allocation.order"])
        assert np.abs(run["trace"]["usage"] - u64).max() < 100 * eps


# ---------------------------------------------------------------- the batched form

class RecordingOps(TorchOps):
    """A mode table that records the shapes of its products (and forms them in float32)."""

    def __init__(self):
        super().__init__("cpu")
        self.products = []

    def matmul(self, a, b):
        self.products.append((tuple(a.shape), tuple(b.shape)))
        return a @ b


def test_the_batched_form_sends_the_specs_products_through_a_mode_tables_matmul():
    cfg = DNCConfig(5, 3, controller_size=7, memory_rows=6, memory_width=4, read_heads=2)
    B, N, W, R_, H = 2, 6, 4, 2, 7
    params = {k: torch.from_numpy(np.asarray(v, np.float32))
              for k, v in FAMILY.init_params(cfg, 1, "state").items()}
    ops = RecordingOps()
    form = BatchedDNC(ops, cfg)
    assert form.products_rounded and not BatchedDNC(TorchOps("cpu"), cfg).products_rounded
    state = form.initial_state(params, B)
    form.step(params, state, torch.zeros((B, 5)))
    chi = 5 + R_ * W
    assert sorted(ops.products) == sorted([
        ((B, chi), (chi, H)),                       # controller
        ((B, H), (H, cfg.I)),                       # interface
        ((B, 1, W), (B, W, N)),                     # write content: k M^T
        ((B, N, 1), (B, 1, W)),                     # the write's outer product ww v^T
        ((B, R_, N), (B, N, N)), ((B, R_, N), (B, N, N)),   # wr L^T, wr L
        ((B, R_, W), (B, W, N)),                    # read content: k M^T
        ((B, R_, N), (B, N, W)),                    # reads wr M
        ((B, H + R_ * W), (H + R_ * W, 3)),         # output
    ])


def test_the_bundled_torch_backend_in_each_mode(fixtures):
    c = fixtures["dnc-copy-ff-free"]
    for mode in MODES:
        r = run_case(load_backend("torch", "cpu", mode), c, mode, paths=False)
        assert r.status == PASS, (mode, r.first_divergence, r.check("trace")[1][:300])
    # past a near-tie: incomplete alone (the float64 run must check the rest), and the
    # noise bound is no evidence of a higher precision than the mode's
    r = run_case(load_backend("torch", "cpu", "tf32"), fixtures["dnc-random-ff-state"], "tf32",
                 paths=False)
    assert r.status == "incomplete", r.first_divergence
    assert not any("float64-exact" in note for note in r.observations), r.observations


def test_the_bundled_jax_backend_in_bfloat16_on_an_exact_case(fixtures):
    c = fixtures["dnc-copy-ff-free"]
    r = run_case(load_backend("jax", "cpu", "bfloat16"), c, "bfloat16", paths=False)
    assert r.status == PASS, (r.first_divergence, r.check("trace")[1][:300])


# ---------------------------------------------------------------- admission in a mode

def _first_scaled_near_tie(run64, mode):
    """The first step at which the float64 trace alone has adjacent usages closer than
    the mode's scaled relative gap with swap sensitivity >= 1e-7 (rule (b)'s first term)."""
    u = run64["trace"]["usage"]
    order = run64["trace"]["allocation.order"].astype(int)
    rel = C.GAP_REL * C.UNIT_ROUNDOFF[mode] / C.UNIT_ROUNDOFF["float32"]
    for t in range(u.shape[1]):
        for b in range(u.shape[0]):
            us = u[b, t][order[b, t]]
            P = np.concatenate([[1.0], np.cumprod(us[:-1])])
            d = np.diff(us)
            if np.any((d > 0) & (d < rel * us[1:]) & (P[:-1] * (1 - us[:-1]) ** 2 >= 1e-7)):
                return t
    return None


@pytest.mark.parametrize("mode", MODES)
def test_exact_cases_are_admitted_and_a_zero_state_case_breaks_at_its_split_tie(fixtures,
                                                                                mode):
    for name in EXACT:
        assert FAMILY.noise_from(fixtures[name], mode) is None, name
    c = fixtures["dnc-copy-ff-init"]
    t0 = _first_scaled_near_tie(c.expected["float64"], mode)
    assert t0 == 2
    noise = FAMILY.noise_from(c, mode)
    assert (noise.step, noise.stage) == (t0, ALLOCATION)
    assert f"its emulated {mode}" in noise.reason and "(b) batch row" in noise.reason
    assert FAMILY.noise_from(c, mode) is noise                 # worked out once
    assert FAMILY.noise_from(c, "float32") is None and FAMILY.noise_from(c, "float64") is None


def test_past_the_near_tie_tensors_are_held_to_noise_and_before_it_checked(fixtures):
    c, mode = fixtures["dnc-copy-ff-init"], "bfloat16"
    t0 = FAMILY.noise_from(c, mode).step
    r = compare_case(c, as_result(c.expected[mode]), mode, Tolerance())
    by = {t.tensor: t for t in r.tensors}
    assert r.status == "incomplete"                 # never a pass on its own
    assert by["trace/allocation"].status == Mark.NOISE_ONLY
    assert f"from t={t0} on" in by["trace/allocation"].message
    assert f"from t={t0 + 1} on" in by["trace/usage"].message     # usage at t0 is checked
    assert "admission rule" in by["grads/controller.weight"].message
    # before the near-tie the bound is the mode's own: a usage off at t = 1 fails ...
    early = as_result(c.expected[mode])
    early.trace["usage"][0, 1, 3] += 1e-2
    assert compare_case(c, early, mode, Tolerance()).check("trace")[0] == "fail"
    # ... past it, rows taken in the other order are no failure, NaN still is
    late = as_result(c.expected[mode])
    late.trace["allocation"][0, t0 + 1] = late.trace["allocation"][0, t0 + 1, ::-1]
    assert compare_case(c, late, mode, Tolerance()).check("trace")[0] == "incomplete"
    late.trace["allocation"][0, t0 + 1, 0] = np.nan
    assert compare_case(c, late, mode, Tolerance()).check("trace")[0] == "fail"
    # the same kernel's float64 run checks what the mode could not: a pass
    r64 = compare_case(c, as_result(c.expected["float64"]), "float64", Tolerance())
    r.same_kernel = r64.same_kernel = True
    cover_runs([r, r64])
    assert r.status == PASS
