"""The bundled backends on a CUDA device equal the reference (skipped without a GPU)."""

import pytest


def _torch_gpu():
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device (CPU build or no GPU)"
    return None


def _jax_gpu():
    try:
        import jax
    except ImportError:
        return "jax is not installed"
    try:
        jax.devices("gpu")
    except RuntimeError:
        return f"jax {jax.__version__} sees no GPU (install jax[cuda12] on a GPU machine)"
    return None


WHY_NOT = {"torch": _torch_gpu, "jax": _jax_gpu}


@pytest.mark.cuda
@pytest.mark.parametrize("case", ["lstm_wide", "ff_long"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_cuda_matches_reference(backend, dtype, case, backend_case, compare):
    reason = WHY_NOT[backend]()
    if reason:
        pytest.skip(f"no CUDA for {backend}: {reason}")
    c = backend_case(case)
    result = c.run(backend, dtype, device="cuda")
    ref32 = c.reference("float32") if dtype == "float32" else None
    problems = compare(result, c.reference("float64"), ref32,
                       what=f"{backend} {dtype} on cuda, {case}")
    assert not problems, "\n".join(problems)


@pytest.mark.cuda
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_cuda_index_beyond_the_devices_is_a_value_error(backend):
    reason = WHY_NOT[backend]()
    if reason:
        pytest.skip(f"no CUDA for {backend}: {reason}")
    from diffmem.backends import load_backend
    with pytest.raises(ValueError, match="cuda:999"):
        load_backend(backend, "cuda:999", "float32")
