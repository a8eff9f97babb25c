"""Cases and the comparison shared by the backend tests.

Cases are tiny and few, and each is run once per (backend, dtype) with trace and
gradients, so that JAX compiles each program once for the whole test area.  The
expected values are the frozen reference's (``run_batch``), an independent unbatched
numpy/autograd program, in float64; its float32 run sets the float32 bound.
"""

import numpy as np
import pytest

from diffmem.harness.tolerance import K_FLOAT32, RTOL_FLOAT32, RTOL_FLOAT64
from diffmem.models.ntm.reference import NTMConfig, init_params, run_batch

# name -> (config fields, regime, batch, steps, lengths or None (all full))
CASES = {
    # two heads of each kind, wide shifts, LSTM; the sharp twin shares the program
    "lstm_wide": (dict(controller="lstm", controller_size=6, memory_rows=5, read_heads=2,
                       write_heads=2, shifts=(-2, -1, 0, 1, 2)), "init", 3, 6, (6, 4, 2)),
    "lstm_wide_sharp": (dict(controller="lstm", controller_size=6, memory_rows=5, read_heads=2,
                             write_heads=2, shifts=(-2, -1, 0, 1, 2)), "sharp", 3, 6, None),
    # N = 1: every shift lands on the one row; extreme logits exercise the loss's softplus
    "ff_n1": (dict(controller_size=5, memory_rows=1, read_heads=2, write_heads=2),
              "extreme_logits", 2, 5, None),
    # N = 2 with shifts wider than memory: wrapped offsets add up
    "lstm_n2_wrap": (dict(controller="lstm", controller_size=4, memory_rows=2,
                          shifts=(-3, -1, 0, 2)), "sharp", 2, 5, None),
    # a long sequence (T = 100): rounding accumulates over time
    "ff_long": (dict(controller_size=5, memory_rows=4), "init", 2, 100, (100, 61)),
}
FLOAT32_CASES = ("lstm_wide", "lstm_wide_sharp", "ff_long")

# float64: the product's relative floor alone, without its c64 x float32-error term.
# Safe on every CPU: two correct float64 programs differ by summation order only, ~1e-15
# relative on these tiny cases, and a vector path (AVX-512 or not, MKL or not) changes
# that order, not the size of the difference; 1e-9 leaves six orders of margin.
F64_RTOL = RTOL_FLOAT64
# float32: the product's calibrated bound (k x the reference's own float32 error + rtol x
# scale).  A private tighter k held on one CPU and failed on an AVX-512 one (grad_inputs
# of lstm_wide_sharp, 2.38e-6 against k = 10's 1.99e-6).
F32_K, F32_FLOOR = K_FLOAT32, RTOL_FLOAT32


def make_data(cfg, batch, steps, lengths, seed):
    """Random inputs, binary targets, mask 1 up to each length then 0 (ragged padding)."""
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal((batch, steps, cfg.X))
    targets = (rng.random((batch, steps, cfg.Y)) > 0.5).astype(float)
    lengths = lengths or (steps,) * batch
    mask = (np.arange(steps)[None, :] < np.asarray(lengths)[:, None]).astype(float)
    inputs = inputs * mask[..., None]   # zero padding after the end
    return inputs, targets, mask


class Case:
    def __init__(self, name):
        fields, regime, batch, steps, lengths = CASES[name]
        self.name = name
        self.cfg = NTMConfig(input_size=4, output_size=3, memory_width=3, **fields)
        self.params = init_params(self.cfg, seed=11, regime=regime)
        self.inputs, self.targets, self.mask = make_data(self.cfg, batch, steps, lengths, seed=5)
        self.lengths = lengths
        self._ref = {}
        self._runs = {}

    @property
    def data(self):
        return self.inputs, self.targets, self.mask

    def reference(self, dtype="float64"):
        if dtype not in self._ref:
            self._ref[dtype] = run_batch(self.cfg, self.params, *self.data, dtype=dtype)
        return self._ref[dtype]

    def run(self, backend, dtype, device="cpu"):
        """The backend's full run (trace and grads), once per (backend, dtype, device)."""
        from diffmem.backends import load_backend
        key = (backend, dtype, device)
        if key not in self._runs:
            self._runs[key] = load_backend(backend, device, dtype).run(
                self.cfg, self.params, *self.data, want_trace=True, want_grads=True)
        return self._runs[key]


_CASES = {}


@pytest.fixture(scope="session")
def backend_case():
    """backend_case(name) -> the shared, lazily computed Case."""
    def get(name):
        if name not in _CASES:
            _CASES[name] = Case(name)
        return _CASES[name]
    return get


def tensors(result):
    """(label, array) for every compared tensor of a Result or a reference dict."""
    get = (lambda k: result.get(k)) if isinstance(result, dict) else \
        (lambda k: getattr(result, k))
    out = [("logits", get("logits")), ("loss", get("loss"))]
    out += [(f"grads[{k!r}]", v) for k, v in sorted((get("grads") or {}).items())]
    if get("grad_inputs") is not None:
        out.append(("grad_inputs", get("grad_inputs")))
    out += [(f"trace[{k!r}]", v) for k, v in sorted((get("trace") or {}).items())]
    return out


def mismatches(result, ref64, ref32=None, what="backend"):
    """Messages for every tensor outside its bound (an empty list = all matched).

    float64 (ref32 None): error <= F64_RTOL x scale.  float32: error <= F32_K x the
    reference's own float32 error + F32_FLOOR x scale.  scale = max |reference|.
    """
    got = dict(tensors(result))
    want = dict(tensors(ref64))
    base = dict(tensors(ref32)) if ref32 is not None else {}
    problems = []
    for label, expected in want.items():
        if label not in got or got[label] is None:
            problems.append(f"{what}: {label} missing")
            continue
        actual = np.asarray(got[label])
        if actual.shape != expected.shape:
            problems.append(f"{what}: {label} shape {actual.shape}, expected {expected.shape}")
            continue
        if not np.isfinite(actual).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(actual))[0])
            problems.append(f"{what}: {label} non-finite ({actual[where]}) at {where}")
            continue
        err = np.abs(actual.astype(np.float64) - expected)
        scale = float(np.abs(expected).max()) if expected.size else 0.0
        if ref32 is None:
            bound = F64_RTOL * scale + 1e-300
            how = f"{F64_RTOL:g} x scale {scale:.3g}"
        else:
            ref_err = float(np.abs(base[label].astype(np.float64) - expected).max())
            bound = F32_K * ref_err + F32_FLOOR * scale
            how = (f"{F32_K:g} x reference float32 error {ref_err:.3g} + {F32_FLOOR:g} x "
                   f"scale {scale:.3g}")
        worst = float(err.max()) if err.size else 0.0
        if worst > bound:
            where = tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape))
            problems.append(f"{what}: {label} max error {worst:.3g} at {where} exceeds bound "
                            f"{bound:.3g} ({how})")
    return problems


@pytest.fixture(scope="session")
def compare():
    """compare(result, ref64, ref32=None, what) -> list of mismatch messages."""
    return mismatches


def pytest_generate_tests(metafunc):
    # Case names as parameters: `case64` runs over every case, `case32` over the float32 set.
    if "case64" in metafunc.fixturenames:
        metafunc.parametrize("case64", sorted(CASES))
    if "case32" in metafunc.fixturenames:
        metafunc.parametrize("case32", FLOAT32_CASES)
