"""The Triton backend through Triton's interpreter (TRITON_INTERPRET=1, no GPU):

- each kernel stage's forward equals BatchedNTM's plain torch math, and its hand-written
  backward kernel equals finite differences (torch.autograd.gradcheck, float64);
- `diffmem check --backend triton` passes, float32 and float64, on fixture cases that
  between them exercise every kernel and the edge cases (N = 1 and 2, wide shifts,
  zero memory rows, zero keys, sharp attention, several heads of each kind);
- the conformance suite passes through the pytest plugin, run as a kernel author would.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

# Triton picks the interpreter when a kernel is decorated: set before the first import.
os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton", reason="triton is not installed (pip install 'diffmem[triton]')")
if os.environ["TRITON_INTERPRET"] != "1":
    pytest.skip("TRITON_INTERPRET is set but not to 1", allow_module_level=True)

import torch  # noqa: E402

from diffmem.models.ntm.batched import BatchedNTM  # noqa: E402
from diffmem.backends.torch import TorchOps  # noqa: E402
from diffmem.backends.triton import make_backend  # noqa: E402
from diffmem.backends.triton.model import TritonNTM  # noqa: E402
from diffmem.cli import main  # noqa: E402
from diffmem.models.ntm.reference import NTMConfig  # noqa: E402

# Every stage and the edge cases: N = 1; N = 2 with shifts wider than memory, sharp;
# two heads of each kind with zero keys and a zero memory row.
CHECK_CASES = ("ntm-random-ff-n1-init", "ntm-random-ff-n2-wide-sharp",
               "ntm-random-ff-multihead-zero-keys")
SMALL = "ntm-random-ff-n1-init"

# (rows N, width M, heads, shifts): N = 1 and 2 with shifts wider than memory, a
# non-power-of-two N and M (masked lanes), three heads.
SHAPES = [(1, 3, 2, (-1, 0, 1)), (2, 4, 1, (-3, -1, 0, 2)), (5, 3, 3, (-2, -1, 0, 1, 2))]


def _inputs(N, M, heads, shifts, dtype, seed=0, batch=2, zero_row=True):
    g = torch.Generator().manual_seed(seed)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=dtype)

    def simplex(*shape):
        return torch.softmax(r(*shape), dim=-1)
    memory = r(batch, N, M)
    if zero_row:   # the DELTA in the norm (too curved there for finite differences)
        memory[0, 0] = 0.0
    return {
        "key": r(batch, heads, M), "beta": torch.rand(batch, heads, generator=g, dtype=dtype) * 5,
        "memory": memory, "w_content": simplex(batch, heads, N),
        "gate": torch.rand(batch, heads, generator=g, dtype=dtype),
        "w_prev": simplex(batch, heads, N), "shift": simplex(batch, heads, len(shifts)),
        "gamma": 1 + torch.rand(batch, heads, generator=g, dtype=dtype) * 3,
        "erase": torch.rand(batch, heads, M, generator=g, dtype=dtype),
        "add": torch.tanh(r(batch, heads, M)),
    }


def _calls(x):
    """stage name -> (method name, positional arguments)."""
    return {
        "content": ("content_weights", (x["key"], x["beta"], x["memory"])),
        "gate": ("gated_weights", (x["w_content"], x["gate"], x["w_prev"])),
        "shift": ("shifted_weights", (x["w_content"], x["shift"])),
        "sharpen": ("sharpened_weights", (x["w_content"], x["gamma"])),
        "write": ("write_memory", (x["memory"], x["w_content"], x["erase"], x["add"])),
        "read": ("read_memory", (x["memory"], x["w_content"])),
    }


def _models(N, M, heads, shifts):
    cfg = NTMConfig(input_size=2, output_size=2, controller_size=3, memory_rows=N,
                    memory_width=M, read_heads=heads, write_heads=heads, shifts=shifts)
    return TritonNTM(TorchOps(), cfg), BatchedNTM(TorchOps(), cfg)


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"N{s[0]}-M{s[1]}-heads{s[2]}")
def test_kernel_forward_equals_batched_math(shape, dtype, rtol):
    triton_model, plain = _models(*shape)
    x = _inputs(*shape, dtype=dtype)
    for stage, (method, args) in _calls(x).items():
        got = getattr(triton_model, method)(*args)
        want = getattr(plain, method)(*args)
        assert got.dtype == dtype and got.shape == want.shape, stage
        err = (got - want).abs().max().item()
        assert err <= rtol * max(want.abs().max().item(), 1.0), f"{stage}: {err:.3g}"


@pytest.mark.parametrize("shape", SHAPES[1:], ids=lambda s: f"N{s[0]}-M{s[1]}-heads{s[2]}")
def test_kernel_backward_equals_finite_differences(shape):
    triton_model, _ = _models(*shape)
    x = _inputs(*shape, dtype=torch.float64, zero_row=False)
    for stage, (method, args) in _calls(x).items():
        leaves = tuple(a.clone().requires_grad_(True) for a in args)
        assert torch.autograd.gradcheck(lambda *a: getattr(triton_model, method)(*a), leaves,
                                        eps=1e-6, atol=1e-7, rtol=1e-5,
                                        fast_mode=True), stage


@pytest.mark.parametrize("case_name", CHECK_CASES)
def test_check_passes_float32_and_float64(tmp_path, capsys, case_name):
    report = tmp_path / "report.json"
    code = main(["check", "--backend", "triton", "--cases", case_name,
                 "--dtype", "both", "--jobs", "1", "--heldout", "0", "--no-progress",
                 "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    results = json.loads(report.read_text())["results"]
    assert sorted((r["case"], r["dtype"]) for r in results) == [
        (case_name, "float32"), (case_name, "float64")]
    for r in results:
        assert r["backend"] == f"triton-cpu-{r['dtype']}" and r["status"] == "pass", r
        # Every part was returned and compared: nothing passed by being absent.  The
        # repeated call runs on the first case of each group of same-shaped cases.
        checks = {c: v["status"] for c, v in r["checks"].items()}
        assert checks.pop("repeat") in ("pass", "not compared"), r["case"]
        assert checks == dict.fromkeys(
            ("logits", "loss", "grads", "grad_inputs", "trace", "untraced"), "pass"), r["case"]


def test_conformance_suite_through_the_plugin(tmp_path):
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--pyargs",
         "diffmem.harness.conformance", "--diffmem-backend", "triton", "--diffmem-cases",
         SMALL, "--diffmem-heldout", "0", "-q"], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "14 passed" in out   # 7 checks x 2 dtypes


def test_cpu_without_the_interpreter_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match=r"TRITON_INTERPRET=1") as info:
        make_backend("cpu", "float32")
    assert "\n" not in str(info.value)


def test_unsupported_dtype_and_device_are_rejected():
    with pytest.raises(ValueError, match="dtype"):
        make_backend("cpu", "float16")
    with pytest.raises(ValueError, match="device"):
        make_backend("tpu", "float32")


def test_result_is_numpy_in_the_requested_dtype():
    from diffmem.harness.fixture_io import case_path, load_case
    case = load_case(case_path(SMALL))
    backend = make_backend("cpu", "float64")
    r = backend.run(case.config, case.params, case.inputs, case.targets, case.mask,
                    want_trace=True, want_grads=False)
    assert r.grads is None and isinstance(r.logits, np.ndarray)
    assert r.trace["write.w_content"].dtype == np.float64


def test_graphed_static_path_equals_eager():
    """triton-graphs without a GPU: the static-buffer path, uncaptured, gives exactly
    the eager triton backend's results (the capture itself needs CUDA)."""
    from diffmem.backends.protocol import load_backend
    from diffmem.harness.fixture_io import case_path, load_case
    case = load_case(case_path(SMALL))
    graphed = load_backend("triton-graphs", "cpu", "float64")
    assert graphed.name == "triton-graphs-cpu-float64"
    runs = [b.run(case.config, case.params, case.inputs, case.targets, case.mask,
                  want_trace=True, want_grads=True)
            for b in (graphed, make_backend("cpu", "float64"))]
    for part in ("logits", "loss", "grad_inputs"):
        assert np.array_equal(getattr(runs[0], part), getattr(runs[1], part)), part
    for part in ("grads", "trace"):
        a, b = getattr(runs[0], part), getattr(runs[1], part)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), part
