"""The batched form (BatchedDNC) through the torch and JAX drivers against the reference:
every fixture case and a held-out draw in float64 to ~1e-10 (JAX on four of them), two
cases in float32 within the product's calibrated bound; and the ops-table entries it
adds, by hand: the stable sort at ties, the gather, the cumulative product's gradient at
a factor of exactly 0, the dividing one's NaN, and the allocation's Jacobian at the
hand-worked tie of DNC.md "Gradients"."""

import numpy as np
import pytest

from diffmem.harness.fixture_io import list_cases
from diffmem.harness.tolerance import K_FLOAT32, RTOL_FLOAT32
from diffmem.models.dnc import FAMILY
from diffmem.models.dnc.batched import BatchedDNC
from diffmem.models.dnc.config import DNCConfig

# The bundled fixtures hold the reference's float64 and float32 runs (no reference run
# here but the held-out draw's, a small one).
FIXTURES = {c.name: c for c in list_cases(pattern="dnc-*")}
HELDOUT = FAMILY.heldout(0, 0)
NAMES = sorted(FIXTURES) + [HELDOUT.name]
# JAX compiles a program per config (~10 s each on CI's cores): four cases between them
# hold both controllers, the zero state, the dup tie, freeing (one-hot reads, u = 0 by
# psi = 0) and N = 1 (an empty exclusive product).  The torch driver runs every case.
JAX_CASES = ("dnc-copy-lstm-init", "dnc-random-ff-dup", "dnc-copy-ff-free", "dnc-random-ff-n1")
RUNS = [(name, "torch") for name in NAMES] + [(name, "jax") for name in JAX_CASES]


def _flat(run):
    out = {"logits": run["logits"], "loss": run["loss"], "grad_inputs": run["grad_inputs"]}
    out.update({f"trace.{k}": v for k, v in run["trace"].items()})
    out.update({f"grads.{k}": v for k, v in run["grads"].items()})
    return out


def _case(name, dtype="float64"):
    """(cfg, params, inputs, targets, mask, the reference's run in ``dtype``)."""
    if name in FIXTURES:
        c = FIXTURES[name]
        return c.config, c.params, c.inputs, c.targets, c.mask, c.expected[dtype]
    cfg, params, x, y, m, _ = HELDOUT.build()
    return cfg, params, x, y, m, FAMILY.run_reference(cfg, params, x, y, m, dtype=dtype,
                                                      want_trace=True, want_grads=True)


def test_the_fixtures_are_the_catalogue():
    assert sorted(FIXTURES) == sorted(c.name for c in FAMILY.cases())


@pytest.mark.parametrize("name,lib", RUNS)
def test_float64_equals_reference(name, lib, drivers):
    cfg, params, x, y, m, run = _case(name)
    got = _flat(drivers[lib](BatchedDNC, cfg, params, x, y, m))
    want = _flat(run)
    assert set(got) == set(want)
    for key, w in want.items():
        assert got[key].shape == w.shape, key
        err = np.abs(got[key] - w).max()
        assert err <= 1e-10 * max(1.0, np.abs(w).max()), (key, err)
    # the free list is the stable sort's, exactly (ties included)
    assert np.array_equal(got["trace.allocation.order"], want["trace.allocation.order"])


@pytest.mark.parametrize("name,lib", [("dnc-copy-ff-init", "torch"),
                                      ("dnc-random-ff-dup", "jax")])
def test_float32_within_the_calibrated_bound(name, lib, drivers):
    cfg, params, x, y, m, run = _case(name)
    got = _flat(drivers[lib](BatchedDNC, cfg, params, x, y, m, dtype="float32"))
    want, want32 = _flat(run), _flat(_case(name, "float32")[-1])
    assert np.array_equal(got["trace.allocation.order"], want["trace.allocation.order"])
    for key, w in want.items():
        assert got[key].dtype == np.float32
        err32 = np.abs(want32[key].astype(np.float64) - w)
        bound = K_FLOAT32 * err32 + RTOL_FLOAT32 * max(1.0, np.abs(w).max())
        assert np.all(np.abs(got[key] - w) <= bound), key


# ---------------------------------------------------------------- by hand

@pytest.fixture(autouse=True)
def x64():
    """JAX in float64 for the test's duration only (a context, never the global flag)."""
    import jax
    with jax.enable_x64(True):
        yield


def _tables():
    from diffmem.backends.jax.ops import JaxOps
    from diffmem.backends.torch.ops import TorchOps
    return {"torch": TorchOps(), "jax": JaxOps()}


def _array(lib, a):
    if lib == "torch":
        import torch
        return torch.tensor(np.asarray(a, dtype=np.float64))
    import jax.numpy as jnp
    return jnp.asarray(np.asarray(a, dtype=np.float64))


def _jacobian(lib, f, a):
    """d f(a) / d a, [out..., in...], as numpy."""
    if lib == "torch":
        import torch
        return torch.autograd.functional.jacobian(f, _array(lib, a)).numpy()
    import jax
    return np.asarray(jax.jacrev(f)(_array(lib, a)))


@pytest.mark.parametrize("lib", ["torch", "jax"])
def test_argsort_is_stable_ascending_and_the_gather_follows_it(lib):
    xp = _tables()[lib]
    u = _array(lib, [[0.5, 0.0, 0.5, 0.0, 1.0, 0.0], [0.0] * 6])
    order = np.asarray(xp.argsort(u, axis=-1))
    assert order.tolist() == [[1, 3, 5, 0, 2, 4], [0, 1, 2, 3, 4, 5]]
    taken = np.asarray(xp.take_along_axis(u, xp.argsort(u, axis=-1), axis=-1))
    assert taken.tolist() == [[0.0, 0.0, 0.0, 0.5, 0.5, 1.0], [0.0] * 6]


@pytest.mark.parametrize("lib", ["torch", "jax"])
def test_cumprod_gradient_is_a_product_even_at_a_zero_factor(lib):
    xp = _tables()[lib]
    s = [0.0, 0.3, 0.0, 0.5]
    got = _jacobian(lib, lambda v: xp.cumprod(v, axis=-1), s)
    # d(prod_{i<=j} s_i)/d s_k = prod_{i<=j, i != k} s_i for k <= j, else 0
    want = np.zeros((4, 4))
    for j in range(4):
        for k in range(j + 1):
            want[j, k] = np.prod([s[i] for i in range(j + 1) if i != k])
    assert np.all(np.isfinite(got)) and np.array_equal(got, want)
    # the dividing form: the same values, the gradient 0/0 = NaN in the zero's column
    values = np.asarray(xp.cumprod_dividing(_array(lib, s), axis=-1))
    assert values.tolist() == np.cumprod(s).tolist()
    divided = _jacobian(lib, lambda v: xp.cumprod_dividing(v, axis=-1), s)
    assert np.isnan(divided[:, 0]).all()


@pytest.mark.parametrize("lib", ["torch", "jax"])
def test_allocation_jacobian_at_the_hand_worked_tie(lib):
    """DNC.md: u = (0, 0, 0.5, 1): a = (1, 0, 0, 0), and the only non-zero entries of da/du
    are da_0/du_0 = -1 and da_1/du_0 = +1 (the stable order puts row 0 first)."""
    cfg = DNCConfig(input_size=1, output_size=1, controller_size=1, memory_rows=4,
                    memory_width=1)
    form = BatchedDNC(_tables()[lib], cfg)
    u = [[0.0, 0.0, 0.5, 1.0]]
    order, a = form.allocation(_array(lib, u))
    assert np.asarray(order).tolist() == [[0, 1, 2, 3]]
    assert np.asarray(a).tolist() == [[1.0, 0.0, 0.0, 0.0]]
    J = _jacobian(lib, lambda v: form.allocation(v)[1], u)[0, :, 0, :]
    want = np.zeros((4, 4))
    want[0, 0], want[1, 0] = -1.0, 1.0
    assert np.array_equal(J, want)
    # the same usages on other rows: the derivative follows the free list (rows 2, 3 first)
    J2 = _jacobian(lib, lambda v: form.allocation(v)[1], [[0.5, 1.0, 0.0, 0.0]])[0, :, 0, :]
    want2 = np.zeros((4, 4))
    want2[2, 2], want2[3, 2] = -1.0, 1.0
    assert np.array_equal(J2, want2)


@pytest.mark.parametrize("lib", ["torch", "jax"])
def test_the_link_diagonal_carries_no_gradient(lib):
    cfg = DNCConfig(input_size=1, output_size=1, controller_size=1, memory_rows=3,
                    memory_width=1)
    form = BatchedDNC(_tables()[lib], cfg)
    link_prev = np.full((1, 3, 3), 0.25)
    p_prev = [[0.2, 0.3, 0.1]]
    ww = [[[0.5, 0.2, 0.1]]]

    def link(w):
        return form.link(_array(lib, link_prev), w, _array(lib, p_prev))
    L = np.asarray(link(_array(lib, ww)))
    assert np.all(np.diag(L[0]) == 0.0)
    J = _jacobian(lib, link, ww)[0]          # [N, N] x [1, 1, N]
    assert np.all(J[np.arange(3), np.arange(3)] == 0.0)
    assert np.any(J[0, 1] != 0.0)


def test_rows_with_equal_inputs_stay_bitwise_equal():
    """Row-uniform arithmetic: memory rows 1 and 4 equal -> equal cosines and content
    weights, bitwise, in both tables and float32 too."""
    cfg = DNCConfig(input_size=1, output_size=1, controller_size=1, memory_rows=6,
                    memory_width=7, read_heads=3)
    rng = np.random.default_rng(5)
    memory = rng.standard_normal((2, 6, 7))
    memory[:, 4] = memory[:, 1]
    key, beta = rng.standard_normal((2, 3, 7)), 1.0 + rng.random((2, 3)) * 50
    for lib, xp in _tables().items():
        form = BatchedDNC(xp, cfg)
        for dtype in (np.float64, np.float32):
            def arr(a, dtype=dtype, lib=lib):
                return _array(lib, a) if dtype == np.float64 else \
                    _array(lib, a).float() if lib == "torch" else _array(lib, a).astype(dtype)
            w = np.asarray(form.content_weights(arr(key), arr(beta), arr(memory)))
            assert np.array_equal(w[..., 1], w[..., 4]), (lib, dtype)
