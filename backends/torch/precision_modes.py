"""What the torch backend's matrix products compute in, per precision mode, scoped to a run.

float32 must mean float32: on an Ampere-or-later GPU torch may run float32 matmuls on
TF32 tensor cores (``torch.backends.cuda.matmul.allow_tf32``, cuDNN's ``allow_tf32``),
and ``torch.set_float32_matmul_precision("high" | "medium")`` lets cuBLAS use TF32 and
oneDNN on CPU use bfloat16.  ``matmul_precision`` sets all three for the duration of one
run and puts back exactly what the process had, even when the run raises: the user's
own settings are never changed.  (The flags are process-wide; a run on another thread at
the same moment would see them.)

The low-precision modes, for kernels whose products are not float32:

- ``tf32``: on CUDA, real TF32 (the flags above turned on inside the run); on CPU, which
  has no TF32, an emulation: the operands of every ``@`` rounded to TF32 (10-bit
  mantissa, round to nearest even), product and sum in float32;
- ``bfloat16`` / ``float16``: every ``@`` casts its operands to the format and multiplies
  there (torch's own bf16 / fp16 matmul: accumulation in float32, result in the format),
  the result cast back to float32; the backward pass runs the same casts' gradients,
  so its products are in the format too.  Everything else stays float32.

These go through ``BatchedNTM.matmul`` (the ops table's ``matmul`` entry); the fused
stages of ``backends/fused.py`` are plain ``@`` internally, so a low-precision table
leaves them out (except TF32 on CUDA, where the flags reach them too).
"""

from __future__ import annotations

import contextlib

import torch

from .ops import TorchOps

FORMATS = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def _snapshot():
    """The process's TF32 settings, read through the API it uses: the older flags, or
    (when the user set ``fp32_precision``, after which torch refuses the older getters)
    the newer one."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    try:
        return ("legacy", torch.get_float32_matmul_precision(), matmul.allow_tf32,
                cudnn.allow_tf32)
    except RuntimeError:
        return ("fp32_precision", matmul.fp32_precision, cudnn.fp32_precision)


def _apply(state):
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    if state[0] == "legacy":
        _, precision, allow_matmul, allow_cudnn = state
        torch.set_float32_matmul_precision(precision)   # also sets matmul.allow_tf32
        matmul.allow_tf32 = allow_matmul
        cudnn.allow_tf32 = allow_cudnn
    else:
        _, matmul.fp32_precision, cudnn.fp32_precision = state


def settings():
    """The TF32 / matmul-precision settings in force, as a dict (for ``diffmem doctor``)."""
    state = _snapshot()
    if state[0] == "legacy":
        return {"float32_matmul_precision": state[1], "cuda.matmul.allow_tf32": state[2],
                "cudnn.allow_tf32": state[3]}
    return {"cuda.matmul.fp32_precision": state[1], "cudnn.fp32_precision": state[2]}


@contextlib.contextmanager
def matmul_precision(dtype, device_type="cpu"):
    """Within: TF32 on only for mode ``tf32`` on CUDA, off (full float32) otherwise."""
    saved = _snapshot()
    tf32 = dtype == "tf32" and device_type == "cuda"
    if saved[0] == "legacy":
        wanted = ("legacy", "high" if tf32 else "highest", tf32, tf32)
    else:
        wanted = ("fp32_precision",) + ("tf32" if tf32 else "ieee",) * 2
    try:
        _apply(wanted)
        yield
    finally:
        _apply(saved)


def round_tf32(x):
    """float32 tensor -> the nearest TF32 value (ties to even), as float32: on the bit
    pattern, add half an ulp of a 10-bit mantissa (minus one, plus the kept lowest bit)
    and clear the 13 dropped bits; inf and NaN are left alone."""
    bits = x.contiguous().view(torch.int32)
    rounded = ((bits + 0xFFF + ((bits >> 13) & 1)) & ~0x1FFF).view(torch.float32)
    return torch.where(torch.isfinite(x), rounded, x)


def _tf32_operand(x):
    # The rounding passed straight through in the backward (a cast's gradient).
    return x + (round_tf32(x.detach()) - x).detach()


class TF32EmulationOps(TorchOps):
    """TF32 on a device without it: ``@`` of operands rounded to TF32, float32 products."""
    write_memory = cosine_similarity = read_memory = None

    @staticmethod
    def matmul(a, b):
        return _tf32_operand(a) @ _tf32_operand(b)


class CastOps(TorchOps):
    """bfloat16 / float16: ``@`` computed in the format, the result back in float32."""
    write_memory = cosine_similarity = read_memory = None

    def __init__(self, device="cpu", fmt=torch.bfloat16):
        super().__init__(device)
        self.fmt = fmt

    def matmul(self, a, b):
        return (a.to(self.fmt) @ b.to(self.fmt)).to(a.dtype)


def ops_for(dtype, device):
    """The ops table for a precision mode on a torch device."""
    device = torch.device(device)
    if dtype in FORMATS:
        return CastOps(device, FORMATS[dtype])
    if dtype == "tf32" and device.type != "cuda":
        return TF32EmulationOps(device)
    return TorchOps(device)   # float64, float32, and tf32 on CUDA (the flags decide)
