"""The bundled torch driver (a loop over time, autograd) around ``TritonNTM``."""

from __future__ import annotations

from diffmem.backends.torch.driver import TorchBackend

from .model import TritonNTM


class TritonBackend(TorchBackend):
    def __init__(self, device="cpu", dtype="float32", model_cls=None):
        # The kernels compute in their input dtype throughout; the low-precision modes of
        # the torch driver (autocast) would hand them float16 tensors they were not
        # written or checked for.
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype: the triton backend computes in 'float32' or 'float64', "
                             f"got {dtype!r}")
        super().__init__(device, dtype, model_cls or TritonNTM)
        # Named after the production model: a variant shows as triton-...[Variant].
        suffix = "" if self.model_cls is TritonNTM else f"[{self.model_cls.__name__}]"
        self.name = f"triton-{device}-{dtype}{suffix}"
