"""Run loudinthecloud/pytorch-ntm, unmodified, as a diffmem backend.

The adapter builds pytorch-ntm's own ``EncapsulatedNTM`` (its LSTM controller, one read and
one write head, its memory), loads diffmem's parameters (NTM.md names) into it, runs the
sequence one step at a time the way pytorch-ntm's ``train.py`` does, observes the
intermediates (``observe.py``), and maps the gradients back to NTM.md names.  What it
cannot express raises ``Unsupported``.  The selected ``patches.py`` are applied around the
run; with none, this is pytorch-ntm as published.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch
import torch.nn.functional as F

from diffmem.backends import Result
from diffmem.backends.protocol import Unsupported

from . import observe
from .patches import ENV, select

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
TRACE_ENV = "DIFFMEM_PYNTM_TRACE"


def make_backend(device="cpu", dtype="float32", patches=None, trace=None):
    """``patches``: 'all' (default), 'none', a count or names (``patches.select``); the
    environment variable DIFFMEM_PYNTM_PATCHES sets it for ``diffmem check``.
    ``trace``: 'hooks' (default; what module forward hooks and the model's state expose) or
    'wrapped' (also NTMMemory's methods wrapped: every NTM.md entry), or DIFFMEM_PYNTM_TRACE."""
    if patches is None:
        patches = os.environ.get(ENV, "all")
    if trace is None:
        trace = os.environ.get(TRACE_ENV, "hooks")
    return PyTorchNTM(device, dtype, select(patches), trace)


def unsupported_reason(cfg) -> str | None:
    """Why pytorch-ntm's EncapsulatedNTM cannot express this configuration, or None."""
    if cfg.get("model", "ntm") != "ntm":
        return f"pytorch-ntm is an NTM; model {cfg.get('model')!r}"
    if cfg["controller"] != "lstm":
        return f"pytorch-ntm has only an LSTM controller (config: {cfg['controller']})"
    if cfg["read_heads"] != 1 or cfg["write_heads"] != 1:
        return (f"EncapsulatedNTM pairs one read with one write head per num_heads "
                f"(config: {cfg['read_heads']} read, {cfg['write_heads']} write heads); the "
                f"adapter supports one of each")
    if list(cfg["shifts"]) != [-1, 0, 1]:
        return f"pytorch-ntm's _convolve takes exactly shifts (-1, 0, 1) (config: {cfg['shifts']})"
    return None


class PyTorchNTM:
    def __init__(self, device="cpu", dtype="float32", patches=(), trace="hooks"):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
        if trace not in observe.LEVELS:
            raise ValueError(f"{TRACE_ENV}: expected one of {observe.LEVELS}, got {trace!r}")
        import ntm.aio  # noqa: F401  (fail here, at make_backend, when it is not importable)
        self.device, self.dtype = torch.device(device), _DTYPES[dtype]
        self.patches, self.trace_level = tuple(patches), trace
        self.name = f"pytorch-ntm-{device}-{dtype}"

    def supports(self, config):
        return unsupported_reason(_cfg(config))

    def build(self, cfg, params):
        from ntm.aio import EncapsulatedNTM
        X, Y, H = cfg["input_size"], cfg["output_size"], cfg["controller_size"]
        N, M = cfg["memory_rows"], cfg["memory_width"]
        with torch.random.fork_rng(devices=[]):   # its random init (overwritten below)
            model = EncapsulatedNTM(X, Y, H, 1, 1, N, M)   # must not move the caller's RNG
        model = model.to(self.device, self.dtype)
        for p in self.patches:
            if p.on_model:
                p.on_model(model)
        load(model, cfg, params, self.dtype, self.device)
        return model

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        cfg = _cfg(config)
        reason = unsupported_reason(cfg)
        if reason:
            raise Unsupported(reason)

        def tensor(a, grad=False):
            return torch.tensor(np.asarray(a), dtype=self.dtype, device=self.device,
                                requires_grad=grad)
        x, z, m = tensor(inputs, want_grads), tensor(targets), tensor(mask)
        with contextlib.ExitStack() as stack:
            for p in self.patches:
                if p.during_run:
                    stack.enter_context(p.during_run())
            model = self.build(cfg, params)
            recorder = observe.Recorder(model, self.trace_level)
            with torch.set_grad_enabled(want_grads):
                probs, trace = recorder.run(x)
                logits = trace["logits"]
                loss_fn = next((p.loss for p in self.patches if p.loss), bce_on_probs)
                per_entry = loss_fn(probs, logits, z)
                loss = (m * per_entry.sum(-1)).sum(-1)
                result = Result(logits=_np(logits), loss=_np(loss))
                if want_grads:
                    result.grads, result.grad_inputs = gradients(model, loss.sum(), x, cfg)
        if want_trace:
            result.trace = {k: _np(v) for k, v in trace.items()}
        return result


def bce_on_probs(probs, logits, targets):
    """pytorch-ntm's train.py: nn.BCELoss on the sigmoid outputs."""
    return F.binary_cross_entropy(probs, targets, reduction="none")


def _cfg(config):
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def _np(t):
    return t.detach().cpu().numpy()


# ---------------------------------------------------------------- parameters

def _sizes(cfg):
    X, M, S, H = cfg["input_size"], cfg["memory_width"], len(cfg["shifts"]), cfg["controller_size"]
    return X + M, 3 * M + S + 3, H   # controller input, write-head slice width, H


def _slots(model, cfg):
    """NTM.md name -> [(pytorch-ntm tensor, index into the NTM.md array)]."""
    U, Iw, _ = _sizes(cfg)
    lstm = model.ntm.controller.lstm
    write = next(h for h in model.ntm.heads if not h.is_read_head())
    read = next(h for h in model.ntm.heads if h.is_read_head())
    all_ = slice(None)
    slots = {
        "controller.weight": [(lstm.weight_ih_l0, (all_, slice(0, U))),
                              (lstm.weight_hh_l0, (all_, slice(U, None)))],
        "controller.bias": [(lstm.bias_ih_l0, all_)],
        "interface.weight": [(write.fc_write.weight, slice(0, Iw)),
                             (read.fc_read.weight, slice(Iw, None))],
        "interface.bias": [(write.fc_write.bias, slice(0, Iw)),
                           (read.fc_read.bias, slice(Iw, None))],
        "output.weight": [(model.ntm.fc.weight, all_)],
        "output.bias": [(model.ntm.fc.bias, all_)],
        "init.memory": [(model.memory.mem_bias, all_)],
        "init.read": [(model.ntm.init_r[0], all_)],
    }
    # pytorch-ntm has no learned initial weights; a patch may add them.
    if hasattr(write, "init_logits"):
        slots["init.write_logits"] = [(write.init_logits, all_)]
    if hasattr(read, "init_logits"):
        slots["init.read_logits"] = [(read.init_logits, all_)]
    return slots


def load(model, cfg, params, dtype, device):
    """Copy diffmem's parameters into the tensors pytorch-ntm's forward reads."""
    with torch.no_grad():
        for name, parts in _slots(model, cfg).items():
            value = torch.as_tensor(np.asarray(params[name]), dtype=dtype, device=device)
            for target, index in parts:
                target.copy_(value[index].reshape(target.shape))
        lstm = model.ntm.controller
        # NTM.md: h_{-1} = cell_{-1} = 0, and one bias (pytorch's LSTM adds two).
        lstm.lstm.bias_hh_l0.zero_()
        lstm.lstm_h_bias.zero_()
        lstm.lstm_c_bias.zero_()


def gradients(model, loss, x, cfg):
    """d loss / d (every NTM.md parameter, the inputs); a parameter pytorch-ntm does not
    learn (a buffer, or absent) gets a zero gradient: pytorch-ntm computes none."""
    slots = _slots(model, cfg)
    leaves = [t for parts in slots.values() for t, _ in parts if t.requires_grad]
    got = torch.autograd.grad(loss, leaves + [x], allow_unused=True)
    by_id = {id(t): g for t, g in zip(leaves, got)}
    grads = {}
    for name, parts in slots.items():
        shape = _param_shape(name, parts, cfg)
        full = torch.zeros(shape, dtype=x.dtype)
        for t, index in parts:
            g = by_id.get(id(t))
            if g is not None:
                full[index] = g.detach().cpu().reshape(full[index].shape)
        grads[name] = full.numpy()
    for name in ("init.write_logits", "init.read_logits"):
        grads.setdefault(name, np.zeros((1, cfg["memory_rows"]), dtype=grads["init.read"].dtype))
    gx = got[-1]
    return grads, (_np(gx) if gx is not None else np.zeros(tuple(x.shape),
                                                           dtype=grads["init.read"].dtype))


def _param_shape(name, parts, cfg):
    U, Iw, H = _sizes(cfg)
    M = cfg["memory_width"]
    return {"controller.weight": (4 * H, U + H), "controller.bias": (4 * H,),
            "interface.weight": (Iw + M + 6, H), "interface.bias": (Iw + M + 6,),
            "init.read": (1, M)}.get(name, tuple(parts[0][0].shape))
