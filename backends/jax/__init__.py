"""The bundled JAX backend: each family's batched form under ``jit``, ``lax.scan`` over time.

``make_backend(device, dtype, model_cls=None)`` gives the HARNESS.md section 1
backend (``name``, ``run``).  Devices ``cpu``, ``cuda``, ``cuda:N``; dtypes float32,
float64.  Compiled programs are cached per (model class, config, shapes, dtype, device,
want flags): a second call with the same shapes does not recompile, and with
``DIFFMEM_JAX_PROGRAMS`` set a later process loads the traced program from disk
(``stored.py``).  Each Result's
``extras`` holds ``compile_s`` (0 when cached) apart from ``run_s``.

float64 without global side effects: each float64 call runs inside the thread-local
``jax.enable_x64(True)`` context; the process-wide ``jax_enable_x64`` flag is never set.
A caller doing its own float64 JAX work wraps it the same way (``precision("float64")``).

For training (pure functions of JAX arrays, to ``jit`` and ``grad`` directly):

- ``make_model(cfg)`` -> the family's batched form on ``xp`` (e.g. ``BatchedNTM(xp, cfg)``).
- ``forward(model, params, inputs, want_trace=False) -> (logits [B,T,Y], trace|None)``.
- ``sequence_loss(model, params, inputs, targets, mask) -> loss [B]`` (nats, NTM.md);
  ``jax.grad(lambda p: sequence_loss(model, p, x, y, m).sum())`` gives summed gradients.
"""


from .driver import JaxBackend, forward, make_model, precision, sequence_loss
from .ops import FusedJaxOps, JaxOps, xp


def make_backend(device="cpu", dtype="float32", model_cls=None):
    return JaxBackend(device, dtype, model_cls)


__all__ = ["make_backend", "JaxBackend", "JaxOps", "FusedJaxOps", "xp", "forward",
           "make_model", "precision", "sequence_loss"]
