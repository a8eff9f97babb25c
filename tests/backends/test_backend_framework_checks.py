"""The frameworks' own gradient checkers agree with each backend's autodiff.

Independent of the reference: finite differences of the backend's own loss, through
its training-facing ``sequence_loss``, in float64, on a tiny LSTM configuration with
two heads of each kind and a ragged mask.  torch's check uses ``fast_mode`` (random
directional derivatives against finite differences, for every input at once): the full
Jacobian is ~400 columns of forward passes, minutes on a busy 2-core machine.
"""

import numpy as np
import pytest

from diffmem.models.ntm.reference import NTMConfig, init_params

CFG = NTMConfig(input_size=2, output_size=2, controller_size=3, memory_rows=3, memory_width=2,
                read_heads=2, write_heads=2, controller="lstm")


def data():
    rng = np.random.default_rng(3)
    inputs = rng.standard_normal((2, 3, CFG.X))
    targets = (rng.random((2, 3, CFG.Y)) > 0.5).astype(float)
    mask = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    return inputs, targets, mask


def test_torch_gradcheck_float64():
    torch = pytest.importorskip("torch")
    from diffmem.backends.torch import make_model, sequence_loss, to_tensors
    model = make_model(CFG)
    params = to_tensors(init_params(CFG, seed=2), dtype="float64", requires_grad=True)
    inputs, targets, mask = (torch.tensor(a) for a in data())
    inputs.requires_grad_(True)
    names = list(params)

    def loss(*leaves):
        p = dict(zip(names, leaves[:-1]))
        return sequence_loss(model, p, leaves[-1], targets, mask)

    assert torch.autograd.gradcheck(loss, [params[k] for k in names] + [inputs],
                                    eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=True)


def test_jax_check_grads_float64():
    jax = pytest.importorskip("jax")
    from jax.test_util import check_grads
    from diffmem.backends.jax import make_model, precision, sequence_loss
    model = make_model(CFG)
    inputs, targets, mask = data()
    with precision("float64"):
        params = {k: jax.numpy.asarray(v) for k, v in init_params(CFG, seed=2).items()}
        inputs = jax.numpy.asarray(inputs)
        assert inputs.dtype == np.float64

        @jax.jit
        def loss(params, inputs):
            return sequence_loss(model, params, inputs, targets, mask)

        check_grads(loss, (params, inputs), order=1, modes=("rev",), eps=1e-6,
                    atol=1e-7, rtol=1e-5)
