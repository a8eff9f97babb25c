"""The bundled torch driver (a loop over time, autograd) around ``TritonNTM``."""

from __future__ import annotations

from diffmem.backends.torch.driver import TorchBackend

from .model import TritonNTM


class TritonBackend(TorchBackend):
    def __init__(self, device="cpu", dtype="float32", model_cls=None):
        super().__init__(device, dtype, model_cls or TritonNTM)
        # Named after the production model: a variant shows as triton-...[Variant].
        suffix = "" if self.model_cls is TritonNTM else f"[{self.model_cls.__name__}]"
        self.name = f"triton-{device}-{dtype}{suffix}"
