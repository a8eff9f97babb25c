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


def factory_for(model_cls):
    """``make_backend(device, dtype)`` for a subclass of a family's batched form (a
    catalogued bug, a correct variant), named after it in snake case so an import path
    can find it."""
    def factory(device="cpu", dtype="float64"):
        return TorchBackend(device, dtype, model_cls)
    name = "".join("_" + c.lower() if c.isupper() else c for c in model_cls.__name__)
    factory.__name__ = factory.__qualname__ = name.lstrip("_")
    factory.__doc__ = model_cls.__doc__
    factory.model_cls = model_cls
    return factory


def factories_for(classes) -> dict:
    """snake_name -> ``factory_for(cls)``: a catalogue module puts these in its globals,
    so that ``module:snake_name`` is a backend."""
    return {f.__name__: f for f in map(factory_for, classes)}


__all__ = ["make_backend", "factory_for", "factories_for", "TorchBackend", "TorchOps", "forward", "make_model",
           "sequence_loss", "to_tensors"]
