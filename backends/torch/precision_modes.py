"""What the torch backend's matrix products compute in, per precision mode, scoped to a run.

float32 must mean float32: on an Ampere-or-later GPU torch may run float32 matmuls on
TF32 tensor cores (``torch.backends.cuda.matmul.allow_tf32``, cuDNN's ``allow_tf32``),
and ``torch.set_float32_matmul_precision("high" | "medium")`` lets cuBLAS use TF32 and
oneDNN on CPU use bfloat16.  ``matmul_precision`` turns these off for the duration of
one run and puts back exactly what the process had, even when the run raises: the
user's own settings are never changed.  On torch >= 2.9 it reads and writes the
per-backend ``fp32_precision`` settings (which those flags now map to: writing the old
flags and reading them back can fail there once the two APIs were mixed); on older
torch, the flags.  (The settings are process-wide; a run on another thread at the same
moment would see them.)

The low-precision modes, for kernels whose products are not float32:

- ``tf32``: on CUDA, real TF32 (the flags above turned on inside the run); on CPU, which
  has no TF32, an emulation: the operands of every ``@`` rounded to TF32 (10-bit
  mantissa, round to nearest even), product and sum in float32;
- ``bfloat16`` / ``float16``: every ``@`` casts its operands to the format and multiplies
  there (torch's own bf16 / fp16 matmul: accumulation in float32, result in the format),
  the result cast back to float32; autograd differentiates the casts, so the backward
  products are in the format too.  Everything else stays float32.

These go through ``BatchedNTM.matmul`` (the ops table's ``matmul`` entry); the fused
stages of ``backends/fused.py`` are plain ``@`` internally, so a low-precision table
leaves them out (except TF32 on CUDA, where the flags reach them too).
"""

from __future__ import annotations

import contextlib

import torch

from .ops import TorchOps

FORMATS = {"bfloat16": torch.bfloat16, "float16": torch.float16}


# torch >= 2.9 keeps one ``fp32_precision`` setting per backend ("ieee", "tf32", "bf16"
# or "none": inherit), parents before children.  Older torch has only the flags.
_KNOBS = ("", "cuda.matmul", "cudnn", "cudnn.conv", "cudnn.rnn", "mkldnn", "mkldnn.matmul",
          "mkldnn.conv", "mkldnn.rnn")


def _knobs():
    """[(name, object with fp32_precision)] that this torch has, parents first."""
    found = []
    for path in _KNOBS:
        obj = torch.backends
        for part in filter(None, path.split(".")):
            obj = getattr(obj, part, None)
        if obj is not None and hasattr(obj, "fp32_precision"):
            found.append((path or "backends", obj))
    return found


def settings():
    """Every TF32 / matmul-precision setting in force, name -> value (read without
    changing anything; for ``diffmem doctor`` and the tests)."""
    if _knobs():
        return {f"{name}.fp32_precision": obj.fp32_precision for name, obj in _knobs()}
    return {"float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32}


def _set(values):
    """Apply ``settings()``-shaped values (a subset is fine), in the order given."""
    knobs = {f"{name}.fp32_precision": obj for name, obj in _knobs()}
    for key, value in values.items():
        if key in knobs:
            knobs[key].fp32_precision = value
        elif key == "float32_matmul_precision":
            torch.set_float32_matmul_precision(value)
        elif key == "cuda.matmul.allow_tf32":
            torch.backends.cuda.matmul.allow_tf32 = value
        else:
            torch.backends.cudnn.allow_tf32 = value


def full_float32(tf32=False) -> dict:
    """The settings a run needs: cuBLAS and cuDNN products in IEEE float32 (TF32 when
    ``tf32``), oneDNN's (CPU) in float32, never bfloat16."""
    if _knobs():
        mode = "tf32" if tf32 else "ieee"
        return {"cuda.matmul.fp32_precision": mode, "cudnn.fp32_precision": mode,
                "mkldnn.matmul.fp32_precision": "ieee"}
    return {"float32_matmul_precision": "high" if tf32 else "highest",
            "cuda.matmul.allow_tf32": tf32, "cudnn.allow_tf32": tf32}


@contextlib.contextmanager
def matmul_precision(dtype, device_type="cpu"):
    """Within: TF32 on only for mode ``tf32`` on CUDA, full float32 otherwise; every
    setting put back as it was on exit (exception or not)."""
    saved = settings()
    try:
        _set(full_float32(dtype == "tf32" and device_type == "cuda"))
        yield
    finally:
        _set(saved)


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
