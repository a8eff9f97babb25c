"""The bundled PyTorch backend: each family's batched form on torch tensors, autograd for
gradients.

``make_backend(device, dtype, model_cls=None)`` gives the HARNESS.md section 1
backend (``name``, ``run``).  Devices ``cpu``, ``cuda``, ``cuda:N``; dtypes float32,
float64.  Batch, heads and rows are tensor axes; only time is a Python loop.

For training (framework-native, no numpy round trip per step):

- ``to_tensors(params, device, dtype)``: numpy params -> dict of tensors.
- ``forward(model, params, inputs, want_trace=False) -> (logits [B,T,Y], trace|None)``
  where ``model = make_model(cfg, device)`` (the family's batched form on ``TorchOps``)
  and ``inputs`` is a tensor [B, T, X].  Differentiable in ``params`` and ``inputs``.
- ``sequence_loss(model, params, inputs, targets, mask) -> loss [B]`` (nats, NTM.md);
  ``loss.sum().backward()`` gives gradients summed over the batch.
"""


from .driver import TorchBackend, forward, make_model, sequence_loss, to_tensors
from .ops import TorchOps


def make_backend(device="cpu", dtype="float32", model_cls=None):
    return TorchBackend(device, dtype, model_cls)


__all__ = ["make_backend", "TorchBackend", "TorchOps", "forward", "make_model",
           "sequence_loss", "to_tensors"]
