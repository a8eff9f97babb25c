"""Driving a family's batched form with PyTorch: a loop over time, autograd for gradients."""

from __future__ import annotations

import time

import numpy as np
import torch

from diffmem.backends.driver import (backend_name, build, check_dtype, check_run_args,
                                     parse_device, supports)
from diffmem.backends.protocol import Result

from .ops import TorchOps
from .precision_modes import matmul_precision, ops_for

# Tensors are float32 in the low-precision modes: only the matrix products are lower.
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "tf32": torch.float32,
                 "bfloat16": torch.float32, "float16": torch.float32}


def torch_device(device):
    """'cpu' | 'cuda' | 'cuda:N' -> torch.device, or ValueError if it is not there."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: torch sees no CUDA device (torch "
                         f"{torch.__version__}, built with CUDA {torch.version.cuda}); install "
                         f"a CUDA build of torch or use device 'cpu'")
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"device {device!r}: torch sees {count} CUDA device(s), "
                         f"cuda:0..cuda:{count - 1}")
    return torch.device("cuda", index)


def ops_table(device="cpu", dtype="float32"):
    """The ops table of ``dtype`` on ``device`` (a low-precision mode's rounds its matrix
    products: backends/torch/precision_modes.py)."""
    return TorchOps(device) if dtype in ("float32", "float64") else ops_for(dtype, device)


def make_model(cfg, device="cpu", model_cls=None, dtype="float32"):
    """The batched form of ``cfg`` (a config, its dict, or its bound ``Model``) on
    ``device``: the family's own, or ``model_cls``, a bug or variant subclass of it."""
    return build(cfg, ops_table(device, dtype), model_cls)


def to_tensors(params, device="cpu", dtype="float32", requires_grad=False):
    """numpy params -> dict of tensors (leaves, with ``requires_grad`` when asked)."""
    tdtype = TORCH_DTYPES[check_dtype(dtype)]
    return {k: torch.tensor(np.asarray(v), dtype=tdtype, device=device,
                            requires_grad=requires_grad) for k, v in params.items()}


def forward(model, params, inputs, want_trace=False):
    """inputs [B, T, X] -> (logits [B, T, Y], trace {name: [B, T, ...]} or None).

    The trace is detached: it records values, it is not part of the graph.
    """
    batch, steps = inputs.shape[0], inputs.shape[1]
    state = model.initial_state(params, batch, steps)
    logits, records = [], []
    for t in range(steps):
        state, record = model.step(params, state, inputs[:, t])
        logits.append(record["logits"])
        if want_trace:
            records.append({k: v.detach() for k, v in record.items()})
    trace = None
    if want_trace:
        trace = {k: torch.stack([r[k] for r in records], dim=1) for k in records[0]}
    return torch.stack(logits, dim=1), trace


def run_model(model, params, inputs, targets, mask, want_trace=False):
    """(logits, loss [B], trace or None): the time loop of ``forward``, or the batched
    form's own ``run_sequence`` where it has one (a whole-sequence form such as the
    chunked delta rule, which has no per-step ``step``)."""
    whole = getattr(model, "run_sequence", None)
    if whole is None:
        logits, trace = forward(model, params, inputs, want_trace)
        return logits, model.loss(logits, targets, mask), trace
    logits, loss, trace = whole(params, inputs, targets, mask, want_trace)
    return logits, loss, (None if trace is None else {k: v.detach() for k, v in trace.items()})


def sequence_loss(model, params, inputs, targets, mask):
    """Per-sequence loss [B] (NTM.md "Loss"), differentiable in params and inputs."""
    logits, _ = forward(model, params, inputs)
    return model.loss(logits, targets, mask)


class TorchBackend:
    # One program for every dtype (the batched form on tensors of that dtype): its
    # float64 run may vouch for what float32 cannot resolve (docs/harness.md, "Verdicts").
    float64_is_same_kernel = True

    def __init__(self, device="cpu", dtype="float32", model_cls=None):
        self.dtype = check_dtype(dtype)
        self.device = torch_device(device)
        self.model_cls = model_cls
        self.name = backend_name("torch", device, dtype, model_cls)
        self._models = {}

    def supports(self, config):
        """A bug or variant subclass runs only its own family's configs, and a family's
        form only on a table with every operation it needs."""
        return supports(config, self.model_cls, ops_table(self.device, self.dtype))

    def net(self, model):
        """The batched form of a bound ``Model``, made once per config."""
        if model.config not in self._models:
            self._models[model.config] = make_model(model, self.device, self.model_cls,
                                                    self.dtype)
        return self._models[model.config]

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        model, params, inputs, targets, mask = check_run_args(
            config, params, inputs, targets, mask, self.dtype)
        net = self.net(model)
        started = time.perf_counter()
        p = to_tensors(params, self.device, self.dtype, requires_grad=want_grads)
        x, y, m = (torch.as_tensor(a, device=self.device) for a in (inputs, targets, mask))
        x.requires_grad_(want_grads)
        # TF32 off (on for mode tf32 on CUDA) for this run only; restored after.
        with matmul_precision(self.dtype, self.device.type), torch.set_grad_enabled(want_grads):
            logits, loss, trace = run_model(net, p, x, y, m, want_trace)
            grads = grad_inputs = None
            if want_grads:
                names = list(p)
                g = torch.autograd.grad(loss.sum(), [p[k] for k in names] + [x],
                                        allow_unused=True)
                grads = {k: to_numpy(gk, p[k]) for k, gk in zip(names, g[:-1])}
                grad_inputs = to_numpy(g[-1], x)
        result = Result(logits=to_numpy(logits), loss=to_numpy(loss), grads=grads,
                        grad_inputs=grad_inputs)
        if want_trace:
            result.trace = {k: to_numpy(trace[k]) for k in model.trace_names}
        result.extras["run_s"] = time.perf_counter() - started
        return result


def to_numpy(t, like=None):
    # allow_unused: a parameter a (buggy) model never touches has gradient zero, not None.
    if t is None:
        return np.zeros(tuple(like.shape), dtype=str(like.dtype).replace("torch.", ""))
    return t.detach().cpu().numpy()
