"""The CUDA-graph torch backend (backends/torch/graphs.py).

Without a GPU the static-buffer path runs eagerly: it must give exactly the eager
backend's results, and each call its own gradients (static outputs overwritten, never
accumulated).  The capture itself is checked on CUDA only (marked ``cuda``).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from diffmem.backends.torch import make_backend as eager_backend  # noqa: E402
from diffmem.backends.torch.graphs import GraphedTorchBackend, make_backend  # noqa: E402
from diffmem.harness.fixture_io import case_path, load_case  # noqa: E402

CASE = "ntm-random-ff-multihead-zero-keys"   # two heads of each kind, zero keys, B = 2


@pytest.fixture(scope="module")
def case():
    return load_case(case_path(CASE))


def _run(backend, case, inputs=None, params=None):
    return backend.run(case.config, params or case.params,
                       case.inputs if inputs is None else inputs, case.targets, case.mask,
                       want_trace=True, want_grads=True)


def _flat(r):
    out = {"logits": r.logits, "loss": r.loss, "grad_inputs": r.grad_inputs}
    out.update({f"grads/{k}": v for k, v in r.grads.items()})
    out.update({f"trace/{k}": v for k, v in r.trace.items()})
    return out


def _assert_equal(a, b):
    fa, fb = _flat(a), _flat(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert np.array_equal(fa[k], fb[k]), k


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_static_path_equals_eager_and_does_not_accumulate(case, dtype):
    graphed = make_backend("cpu", dtype)
    assert isinstance(graphed, GraphedTorchBackend) and graphed.name == f"torch-graphs-cpu-{dtype}"
    eager = eager_backend("cpu", dtype)
    _assert_equal(_run(graphed, case), _run(eager, case))
    # A second call on the same static buffers with other data: its own results, not
    # the sum with the first call's gradients.
    other = case.inputs[::-1].copy()
    second = _run(graphed, case, inputs=other)
    _assert_equal(second, _run(eager, case, inputs=other))
    assert not np.array_equal(second.grads["controller.weight"],
                              _run(eager, case).grads["controller.weight"])
    assert len(graphed._steps) == 1   # one static step per shape, reused


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cuda_graph_replay_equals_eager(case, dtype):
    if not torch.cuda.is_available():
        pytest.skip(f"torch {torch.__version__} sees no CUDA device")
    graphed, eager = make_backend("cuda", dtype), eager_backend("cuda", dtype)
    first = _run(graphed, case)
    assert graphed._steps and all(s.graph is not None for s in graphed._steps.values())
    for inputs in (case.inputs, case.inputs[::-1].copy(), case.inputs):
        got, want = _run(graphed, case, inputs=inputs), _run(eager, case, inputs=inputs)
        for k, a in _flat(got).items():
            b = _flat(want)[k]
            assert np.allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-6 if dtype == "float32" else 1e-13), k
    assert first.loss.shape == (case.inputs.shape[0],)
