"""The Triton backend: the NTM step's memory side as Triton kernels (``kernels.py``),
forward and backward, inside the bundled torch driver.

``make_backend(device, dtype, model_cls=TritonNTM)`` gives the HARNESS.md section 1
backend, registered as ``triton``.  Devices ``cuda``, ``cuda:N``, and ``cpu`` through
Triton's interpreter only (``TRITON_INTERPRET=1`` in the environment before triton is
imported: how CI runs it without a GPU); dtypes float32 and float64, computed in that
dtype throughout (no TF32, no lower-precision accumulation).
"""

from __future__ import annotations

import os

from diffmem.backends.driver import parse_device

INTERPRET_HELP = ("the triton backend on device 'cpu' runs through Triton's interpreter: "
                  "set TRITON_INTERPRET=1 in the environment before triton is imported")


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def make_backend(device="cpu", dtype="float32", model_cls=None):
    kind, _ = parse_device(device)
    if kind == "cpu" and not interpreting():
        raise ValueError(INTERPRET_HELP)
    try:
        from .driver import TritonBackend
    except ImportError as exc:
        raise ValueError(f"the triton backend needs triton ({exc}); "
                         f"pip install 'diffmem[triton]'") from exc
    return TritonBackend(device, dtype, model_cls)


def make_graphed_backend(device="cpu", dtype="float32", model_cls=None):
    """The same kernels with the whole step (torch controller ops and Triton launches
    alike) captured in one CUDA graph per shape (``backends/torch/graphs.py``): the
    eager driver's per-op launch cost is what a GPU would otherwise spend its time on.
    Registered as ``triton-graphs``; on CPU the static-buffer path runs uncaptured."""
    backend = make_backend(device, dtype, model_cls)   # the same checks and messages
    from diffmem.backends.torch.graphs import GraphedTorchBackend
    graphed = GraphedTorchBackend(device, dtype, backend.model_cls)
    graphed.name = backend.name.replace("triton-", "triton-graphs-", 1)
    return graphed


__all__ = ["make_backend", "make_graphed_backend", "interpreting", "INTERPRET_HELP"]
