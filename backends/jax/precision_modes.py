"""What the JAX backend's matrix products compute in, per precision mode, scoped to a run.

float32 must mean float32: XLA may run a float32 dot in a lower precision unless told
otherwise (TF32 on NVIDIA GPUs from Ampere on, bfloat16 passes on TPU).  The backend
compiles its programs inside ``jax.default_matmul_precision("highest")``, a context
(thread-local, part of the jit cache key) that marks every dot of the traced program
``precision = HIGHEST``; the process-wide ``jax_default_matmul_precision`` flag is never
set, so a user's own JAX code keeps whatever it chose.

The low-precision modes, for kernels whose products are not float32:

- ``tf32``: on a GPU, XLA's TF32 dot algorithm (``TF32_TF32_F32``: operands rounded to
  TF32, float32 accumulation); on CPU, which has no TF32, the same emulated: the
  operands of every product rounded to TF32 with ``lax.reduce_precision`` (round to
  nearest even), the dot itself HIGHEST;
- ``bfloat16`` / ``float16``: every product's operands cast to the format, the dot
  accumulating and returning float32 (``preferred_element_type``); JAX's transposed
  products in the backward pass take the float32 cotangent and the operands as cast.

These go through ``BatchedNTM.matmul`` (the ops table's ``matmul`` entry).
"""

from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp

from .ops import JaxOps

FORMATS = {"bfloat16": jnp.bfloat16, "float16": jnp.float16}


def matmul_precision_name(dtype, platform="cpu"):
    """The ``jax.default_matmul_precision`` a computation in ``dtype`` runs under."""
    if dtype == "tf32" and platform == "gpu":
        return "TF32_TF32_F32"
    return "highest"


@contextlib.contextmanager
def precision(dtype, platform="cpu"):
    """The context a computation in ``dtype`` runs and compiles in: x64 on only for
    float64 (``jax.enable_x64``, thread-local), matrix products HIGHEST (TF32 only for
    mode tf32 on a GPU).  Both are restored on exit."""
    with contextlib.ExitStack() as stack:
        if dtype == "float64":
            stack.enter_context(jax.enable_x64(True))
        stack.enter_context(jax.default_matmul_precision(matmul_precision_name(dtype, platform)))
        yield


class TF32EmulationOps(JaxOps):
    """TF32 on a device without it: operands rounded to TF32, products in float32."""

    @staticmethod
    def matmul(a, b):
        return (jax.lax.reduce_precision(a, exponent_bits=8, mantissa_bits=10)
                @ jax.lax.reduce_precision(b, exponent_bits=8, mantissa_bits=10))


class CastOps(JaxOps):
    """bfloat16 / float16 inputs to every product, float32 accumulation and result."""

    def __init__(self, fmt):
        self.fmt = fmt

    def matmul(self, a, b):
        return jnp.matmul(a.astype(self.fmt), b.astype(self.fmt),
                          preferred_element_type=jnp.float32)


def ops_for(dtype, platform="cpu"):
    """The ops table for a precision mode on a JAX platform ('cpu' or 'gpu')."""
    if dtype in FORMATS:
        return CastOps(FORMATS[dtype])
    if dtype == "tf32" and platform != "gpu":
        return TF32EmulationOps()
    return JaxOps()   # float64, float32, and tf32 on a GPU (the dot algorithm decides)
