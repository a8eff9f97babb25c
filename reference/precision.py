"""Low-precision modes emulated in the reference: the baseline for tf32 / bf16 / fp16 kernels.

A kernel that multiplies matrices in TF32, bfloat16 or float16 cannot match a float32
run; the harness bounds it by what the same precision costs a plain implementation
(FlashAttention's practice): the reference is run with that precision *emulated* and a
backend in the mode may be ``k`` times as far from float64 as the emulation is.

What the emulation rounds, and nothing else:

- **the operands of every matrix product (``@``) of the forward pass** are rounded to
  the mode's format, round to nearest, ties to even: the three linear layers
  (controller, interface, output: ``W x``), the content addressing's dot products
  ``k_h . Mem_i`` (the numerator of the cosine similarity), the reads ``w_h Mem`` and the
  write's ``SUM_h w_h a_h^T``.  These are the products a GPU runs on tensor cores in
  these modes (cuBLAS / XLA dots, torch autocast's matmul list);
- the products are then formed and accumulated in float32 (a product of two rounded
  operands is exact in float32 for tf32 and bf16, and for fp16 within its range), as a
  tensor core does;
- the **result** of each matrix product stays float32 in ``tf32`` (TF32 is a float32
  compute mode); in ``bfloat16`` and ``float16`` it is rounded to the format
  (``product_results="format"``, the default: a bf16 / fp16 GEMM that returns the
  format, as torch's autocast) or kept float32 (``product_results="float32"``: bf16
  inputs, float32 accumulator and output, as a fused kernel or JAX's
  ``preferred_element_type``).  The harness's baseline for these modes takes, element by
  element, whichever of the two is farther from float64 (``harness/baselines.py``);
- the same for those products' gradients (the hand-written VJPs): ``W^T g`` and
  ``g x^T`` of the linear layers, ``gD Mem`` and ``gD^T k`` of the dot products, and
  the reads' and the write's ``w^T g``, ``g Mem^T``, ``a g^T``, ``w g``: a kernel
  in these modes runs its backward matrix products on the same tensor cores.

Not rounded: element-wise math (activations, gates, erase, sharpening's power, the
shift's small circular convolution), reductions that are not matrix products (the
norms' sums of squares, softmax sums) and the loss: kernels keep these in float32.
Everything else in the backward pass is float32; a rounding itself is passed straight
through (the gradient of a cast is the identity).  What a kernel rounds beyond this
(e.g. a bf16 matmul's bf16 result) is covered by the calibrated ``k``
(``diffmem calibrate --dtype tf32,bfloat16,float16``).

Formats, as float32 bit patterns (sign, exponent, mantissa bits kept):

- ``tf32``: 8-bit exponent, 10-bit mantissa (the low 13 of float32's 23 dropped);
- ``bfloat16``: 8-bit exponent, 7-bit mantissa (the low 16 dropped);
- ``float16``: 5-bit exponent, 10-bit mantissa: numpy's float16 cast (also round to
  nearest even; out of range -> inf, tiny -> subnormal or 0).

The mode is a context (``emulating(mode)``, a ``contextvars`` variable: per thread and
task); outside it ``matmul`` is ``a @ b`` and ``outer`` is ``numpy.outer``, so float64
and float32 runs are exactly what they were.
"""

from __future__ import annotations

import contextlib
import contextvars

import numpy as np

# The precisions diffmem checks, defined here once: float64 and float32 are what they
# say; the low-precision modes are kernels whose matrix products are not float32 (TF32
# tensor cores: float32 range, 10-bit mantissa; bfloat16; float16), emulated below.
LOW_PRECISION = ("tf32", "bfloat16", "float16")
PRECISIONS = ("float64", "float32") + LOW_PRECISION
MANTISSA_BITS = {"tf32": 10, "bfloat16": 7, "float16": 10}
EXPONENT_BITS = {"tf32": 8, "bfloat16": 8, "float16": 5}

_MODE = contextvars.ContextVar("diffmem_reference_precision", default=None)


def check_mode(mode):
    if mode not in LOW_PRECISION:
        raise ValueError(f"precision mode: expected one of {LOW_PRECISION}, got {mode!r}")
    return mode


def _round_mantissa(x, dropped_bits):
    """float32 -> float32 with its low ``dropped_bits`` mantissa bits rounded away (to
    nearest, ties to even), on the bit pattern: add half an ulp of the kept precision
    minus one, plus the kept lowest bit, then clear the dropped bits.  A carry into the
    exponent is the correct rounding up; inf and NaN are passed through."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    lowest_kept = (bits >> np.uint32(dropped_bits)) & np.uint32(1)
    half = np.uint32((1 << (dropped_bits - 1)) - 1)
    rounded = ((bits + half + lowest_kept) & ~np.uint32((1 << dropped_bits) - 1)).view(np.float32)
    return np.where(np.isfinite(x), rounded, x)


def round_to(x, mode):
    """``x`` rounded to the mode's format, returned as float32 (numpy has no bfloat16)."""
    check_mode(mode)
    if mode == "float16":
        with np.errstate(over="ignore"):
            return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)
    return _round_mantissa(x, 23 - MANTISSA_BITS[mode])


def emulated_mode():
    """The mode being emulated (within ``emulating``), or None: for a reference whose
    float64 / float32 products are not matrix products (e.g. row-uniform sums) and
    become rounded matrix products only in a mode."""
    return (_MODE.get() or (None,))[0]


def matmul_operand(x):
    """An operand of a matrix product: rounded in an emulated mode, else ``x``."""
    mode = (_MODE.get() or (None,))[0]
    return x if mode is None else round_to(x, mode)


def matmul(a, b):
    """``a @ b``; in an emulated mode the operands rounded to the mode's format, the
    products summed in float32, the result rounded to bf16 / fp16 when the mode's
    ``product_results`` is "format"."""
    mode, results = _MODE.get() or (None, None)
    if mode is None:
        return a @ b
    # A format's overflow (float16 ends at 65504) is part of what a mode emulates: Inf
    # operands give Inf or NaN products, kept as they are and reported by the harness
    # as "not checked in the mode", not warned about here.
    with np.errstate(over="ignore", invalid="ignore"):
        out = round_to(a, mode) @ round_to(b, mode)
    return out if mode == "tf32" or results == "float32" else round_to(out, mode)


def outer(a, b):
    """The outer product ``a b^T`` of two vectors: a matrix product with one term."""
    if _MODE.get() is None:
        return np.outer(a, b)
    return matmul(np.reshape(a, (-1, 1)), np.reshape(b, (1, -1)))


PRODUCT_RESULTS = ("format", "float32")


@contextlib.contextmanager
def emulating(mode, product_results="format"):
    """Within: the reference's matrix products round their operands to ``mode`` (None:
    no rounding), and their results too for bf16 / fp16 when ``product_results`` is
    "format"."""
    if product_results not in PRODUCT_RESULTS:
        raise ValueError(f"product_results: expected one of {PRODUCT_RESULTS}, got "
                         f"{product_results!r}")
    token = _MODE.set(None if mode is None else (check_mode(mode), product_results))
    try:
        yield
    finally:
        _MODE.reset(token)


def compute_dtype(dtype):
    """The numpy dtype a run in ``dtype`` (a dtype or a low-precision mode) computes in."""
    return "float32" if dtype in LOW_PRECISION else dtype
