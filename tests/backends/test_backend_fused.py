"""The hand-written gradients of backends/fused.py against each framework's own
op-by-op derivative of the plain stage methods (an independent computation), and the
rule that a subclass replacing a stage's math is not bypassed by the fused path."""

import numpy as np
import pytest

from diffmem.models.ntm.batched import BatchedNTM
from diffmem.models.ntm.reference import NTMConfig, init_params

FUSED = ("write_memory", "cosine_similarity", "read_memory")
HEADS = [(1, 1), (2, 2), (3, 1)]   # one write head is a special case in the backward


def _cfg(wh, r):
    return NTMConfig(input_size=4, output_size=3, controller_size=12, memory_rows=7,
                     memory_width=5, controller="lstm", write_heads=wh, read_heads=r)


def _plain(ops_cls):
    # The same ops table without the optional fused entries: BatchedNTM's plain math,
    # differentiated op by op by the framework.
    return type("Plain" + ops_cls.__name__, (ops_cls,), dict.fromkeys(FUSED))


def _assert_close(fused, plain, what):
    for name, a, b in zip(sorted(fused), (fused[k] for k in sorted(fused)),
                          (plain[k] for k in sorted(fused))):
        scale = np.max(np.abs(b)) + 1e-300
        err = np.max(np.abs(a - b))
        assert err <= 1e-12 * scale, f"{what} {name}: fused differs by {err:.3g}, scale {scale:.3g}"


@pytest.mark.parametrize("wh,r", HEADS)
def test_torch_fused_equals_autograd(wh, r):
    torch = pytest.importorskip("torch")
    from diffmem.backends.torch import TorchOps, forward, to_tensors
    cfg = _cfg(wh, r)
    params = init_params(cfg, seed=3, regime="sharp")
    x = np.random.default_rng(1).random((3, 5, cfg.X))
    out = {}
    for kind, ops in (("fused", TorchOps()), ("plain", _plain(TorchOps)())):
        p = to_tensors(params, dtype="float64", requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        logits, _ = forward(BatchedNTM(ops, cfg), p, xt)
        torch.sin(logits).sum().backward()   # a non-uniform upstream gradient
        out[kind] = {"logits": logits.detach().numpy(), "inputs": xt.grad.numpy(),
                     **{k: v.grad.numpy() for k, v in p.items()}}
    assert np.array_equal(out["fused"]["logits"], out["plain"]["logits"])
    _assert_close(out["fused"], out["plain"], f"torch Wh={wh} R={r}")


# One JAX case: the math is shared with torch (tested above for every head count); this
# checks the custom_vjp wrapping, and each case costs two JAX compiles.
@pytest.mark.parametrize("wh,r", [(2, 2)])
def test_jax_fused_equals_autodiff(wh, r):
    jax = pytest.importorskip("jax")
    from diffmem.backends.jax import FusedJaxOps, JaxOps, forward, precision
    cfg = _cfg(wh, r)
    params = init_params(cfg, seed=3, regime="sharp")
    x = np.random.default_rng(1).random((3, 5, cfg.X))
    out = {}
    with precision("float64"):
        for kind, ops in (("fused", FusedJaxOps()), ("plain", JaxOps())):
            model = BatchedNTM(ops, cfg)
            p = {k: jax.numpy.asarray(v) for k, v in params.items()}

            def f(p, x):
                return jax.numpy.sin(forward(model, p, x)[0]).sum()
            gp, gx = jax.grad(f, argnums=(0, 1))(p, jax.numpy.asarray(x))
            out[kind] = {"inputs": np.asarray(gx), **{k: np.asarray(v) for k, v in gp.items()}}
    _assert_close(out["fused"], out["plain"], f"jax Wh={wh} R={r}")


def test_override_of_norm_bypasses_fused_cosine():
    torch = pytest.importorskip("torch")
    from diffmem.backends.torch import TorchOps

    class TwiceNorm(BatchedNTM):
        def norm(self, v):
            return 2.0 * super().norm(v)

    key = torch.rand(2, 1, 5, dtype=torch.float64)
    memory = torch.rand(2, 7, 5, dtype=torch.float64)
    fused = BatchedNTM(TorchOps(), _cfg(1, 1)).cosine_similarity(key, memory)
    halved = TwiceNorm(TorchOps(), _cfg(1, 1)).cosine_similarity(key, memory)
    assert torch.allclose(halved, fused / 4.0, rtol=1e-14, atol=0)
