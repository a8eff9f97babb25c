"""The bundled torch backend with its whole step in one CUDA graph.

Eager PyTorch on a GPU is launch-bound for the NTM: a step is hundreds of small kernels
(about 4 ms per time step on an H200 whatever the batch), each launched from Python.
Capturing the whole forward + backward of a batch shape once and replaying it launches
them all from the GPU side in one call.

``StaticStep`` is that capture, on static buffers (the recipe of torch's CUDA graph
docs): parameters, inputs, targets and mask live in tensors made once; a call copies the
new values in, replays, and returns the graph's output tensors (logits, loss, gradients,
trace).  Gradients are computed with ``torch.autograd.grad`` inside the graph, so they
are graph outputs overwritten by each replay, never ``.grad`` buffers accumulated across
replays: nothing has to be zeroed between replays, and each call's gradients are its
own.  Warm-up runs on a side stream before capture, as the recipe requires (lazy
initialisation such as cached zeros and autograd's workspace happens outside the graph).

On a CPU device (or with ``capture=False``) the same static-buffer path runs eagerly:
``make_backend("cpu", ...)`` is this code without the capture, which is how it is tested
without a GPU.

    backend = make_backend("cuda", "float32")     # registered as torch-graphs
    step = StaticStep(model, cfg, params, batch, steps, device, dtype)   # training
    logits, loss, grads, grad_inputs, trace = step(params, inputs, targets, mask)
"""

from __future__ import annotations

import time

import numpy as np
import torch

from diffmem.backends.driver import check_run_args
from diffmem.backends.protocol import Result

from .driver import TORCH_DTYPES, TorchBackend, to_numpy, forward

WARMUP_STEPS = 3


class StaticStep:
    """One (config, batch, steps, want_trace, want_grads) step on static buffers,
    captured in a CUDA graph when ``capture``."""

    def __init__(self, model, cfg, params, batch, steps, device, dtype, *, want_trace=False,
                 want_grads=True, capture=None):
        tdtype = TORCH_DTYPES[dtype] if isinstance(dtype, str) else dtype
        device = torch.device(device)
        self.capture = device.type == "cuda" if capture is None else capture
        self.model, self.want_trace, self.want_grads = model, want_trace, want_grads
        self.names = list(params)
        self.params = {k: torch.zeros(tuple(np.shape(v)), dtype=tdtype, device=device,
                                      requires_grad=want_grads) for k, v in params.items()}
        self.inputs = torch.zeros((batch, steps, cfg.X), dtype=tdtype, device=device,
                                  requires_grad=want_grads)
        self.targets = torch.zeros((batch, steps, cfg.Y), dtype=tdtype, device=device)
        self.mask = torch.zeros((batch, steps), dtype=tdtype, device=device)
        self.graph = None
        self.out = None
        if self.capture:
            self._load(params, np.zeros(self.inputs.shape), np.zeros(self.targets.shape),
                       np.zeros(self.mask.shape))
            self._capture()

    def _body(self):
        with torch.set_grad_enabled(self.want_grads):
            logits, trace = forward(self.model, self.params, self.inputs, self.want_trace)
            loss = self.model.loss(logits, self.targets, self.mask)
            grads = None
            if self.want_grads:
                leaves = [self.params[k] for k in self.names] + [self.inputs]
                grads = torch.autograd.grad(loss.sum(), leaves, allow_unused=True)
                grads = tuple(torch.zeros_like(x) if g is None else g
                              for g, x in zip(grads, leaves))
        return logits.detach(), loss.detach(), grads, trace

    def _capture(self):
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._body()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.out = self._body()

    def _load(self, params, inputs, targets, mask):
        with torch.no_grad():
            pairs = [(self.params[k], params[k]) for k in self.names]
            pairs += [(self.inputs, inputs), (self.targets, targets), (self.mask, mask)]
            for static, value in pairs:   # numpy arrays or tensors (on any device)
                static.copy_(value if torch.is_tensor(value) else torch.as_tensor(value))

    def __call__(self, params, inputs, targets, mask):
        """-> (logits, loss, grads dict | None, grad_inputs | None, trace | None): the
        static output tensors, valid until the next call."""
        self._load(params, inputs, targets, mask)
        if self.graph is not None:
            self.graph.replay()
        else:
            self.out = self._body()
        logits, loss, grads, trace = self.out
        if grads is None:
            return logits, loss, None, None, trace
        return logits, loss, dict(zip(self.names, grads[:-1])), grads[-1], trace


class GraphedTorchBackend(TorchBackend):
    """The torch backend, each (config, shapes, want flags) captured once and replayed."""

    def __init__(self, device="cpu", dtype="float32", model_cls=None, capture=None):
        super().__init__(device, dtype, model_cls)
        self.name = self.name.replace("torch-", "torch-graphs-", 1)
        self.capture = capture
        self._steps = {}

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        model, params, inputs, targets, mask = check_run_args(
            config, params, inputs, targets, mask, self.dtype)
        started = time.perf_counter()
        cfg = model.config
        key = (cfg, inputs.shape, want_trace, want_grads)
        if key not in self._steps:
            self._steps[key] = StaticStep(self.net(model), cfg, params, inputs.shape[0],
                                          inputs.shape[1], self.device, self.dtype,
                                          want_trace=want_trace, want_grads=want_grads,
                                          capture=self.capture)
        logits, loss, grads, grad_inputs, trace = self._steps[key](params, inputs, targets,
                                                                   mask)
        result = Result(logits=to_numpy(logits), loss=to_numpy(loss))
        if want_grads:
            result.grads = {k: to_numpy(g) for k, g in grads.items()}
            result.grad_inputs = to_numpy(grad_inputs)
        if want_trace:
            result.trace = {k: to_numpy(trace[k]) for k in model.trace_names}
        result.extras["run_s"] = time.perf_counter() - started
        return result


def make_backend(device="cpu", dtype="float32", model_cls=None):
    return GraphedTorchBackend(device, dtype, model_cls)
