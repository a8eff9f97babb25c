"""Run ixaxaar/pytorch-dnc, unmodified, as a diffmem backend (spec dnc/1).

The adapter builds pytorch-dnc's own ``DNC`` (one layer, one controller layer: an
``nn.LSTM``, or an ``nn.RNN`` with tanh and its recurrent matrix held at zero, which is
DNC.md's feedforward controller), loads diffmem's parameters (DNC.md names) into it, gives
it dnc/1's initial state through its own ``hx`` argument, runs it, observes the
intermediates (``observe.py``) and maps the gradients back to DNC.md names.  What it
cannot express raises ``Unsupported``.  The selected ``patches.py`` are applied around the
run; with none, this is pytorch-dnc as its own copy task runs it: one call on the whole
sequence.

Parameter mapping (DNC.md "Parameters"):

- ``controller.weight`` [H, X + R W] (LSTM: [4H, X + R W + H]): the controller's
  ``weight_ih_l0`` takes the columns of x_t and of the reads (pytorch-dnc feeds
  ``[x_t ; r_{t-1}]``, the same order), ``weight_hh_l0`` the LSTM's last H columns (zero
  for the feedforward RNN).  ``controller.bias`` is ``bias_ih_l0``; ``bias_hh_l0`` is held
  at zero (dnc/1 has one bias).  Both use torch's gate order i, f, g, o, DNC.md's.
- ``interface.weight`` [I, H], ``interface.bias``: pytorch-dnc's ``interface_weights``
  (``independent_linears=False``, its default), whose slices are the paper's order;
  with ``independent_linears=True`` each field's ``Linear`` takes its rows, stacked in
  DNC.md's table order (read keys, read strengths, write key, write strength, erase,
  write vector, free gates, allocation gate, write gate, read modes).
- ``output.weight`` [Y, H + R W], ``output.bias``: pytorch-dnc's ``output`` reads
  ``[controller output ; reads]``, DNC.md's order, but its width is the *input* width X.
  The adapter builds the DNC with input width max(X, Y): extra input columns are zero
  (and their weights too), extra output rows have zero weights and are dropped.
- ``init.memory``, ``init.read``: the memory and the previous reads of the state the
  adapter passes as ``hx`` (pytorch-dnc starts from zeros, dnc/1's ``init`` regime);
  the controller's state is passed as zeros (pytorch-dnc would draw it at random,
  ``xavier_uniform_``, when ``hx`` leaves it None).
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
TRACE_ENV = "DIFFMEM_PYDNC_TRACE"
LINEARS_ENV = "DIFFMEM_PYDNC_LINEARS"
LINEARS = ("one", "independent")
# DNC.md's interface fields in order, and pytorch-dnc's Linear for each
# (``independent_linears=True``); the lengths in units of (W, R, 1).
FIELDS = (("read_keys_transform", "RW"), ("read_strengths_transform", "R"),
          ("write_key_transform", "W"), ("write_strength_transform", "1"),
          ("erase_vector_transform", "W"), ("write_vector_transform", "W"),
          ("free_gates_transform", "R"), ("allocation_gate_transform", "1"),
          ("write_gate_transform", "1"), ("read_modes_transform", "3R"))


def make_backend(device="cpu", dtype="float32", patches=None, trace=None, linears=None):
    """``patches``: 'all' (default), 'none', a count or names (``patches.select``); the
    environment variable DIFFMEM_PYDNC_PATCHES sets it for ``diffmem check``.
    ``trace``: 'hooks' (what module forward hooks expose) or 'wrapped' (default: also
    Memory's methods wrapped on the instance), or DIFFMEM_PYDNC_TRACE.  ``linears``:
    'one' (pytorch-dnc's default, one interface Linear) or 'independent' (one per field),
    or DIFFMEM_PYDNC_LINEARS."""
    if patches is None:
        patches = os.environ.get(ENV, "all")
    if trace is None:
        trace = os.environ.get(TRACE_ENV, "wrapped")
    if linears is None:
        linears = os.environ.get(LINEARS_ENV, "one")
    return PyTorchDNC(device, dtype, select(patches), trace, linears)


def unsupported_reason(cfg) -> str | None:
    """Why pytorch-dnc's DNC cannot express this configuration, or None."""
    if cfg.get("model") != "dnc":
        return f"pytorch-dnc is a DNC; model {cfg.get('model')!r}"
    if cfg.get("loss", "bce") != "bce":
        return (f"pytorch-dnc's tasks train on binary cross-entropy; the adapter computes "
                f"dnc/1's bce loss only (config: loss {cfg.get('loss')!r})")
    return None


class PyTorchDNC:
    def __init__(self, device="cpu", dtype="float32", patches=(), trace="wrapped",
                 linears="one"):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
        if trace not in observe.LEVELS:
            raise ValueError(f"{TRACE_ENV}: expected one of {observe.LEVELS}, got {trace!r}")
        if linears not in LINEARS:
            raise ValueError(f"{LINEARS_ENV}: expected one of {LINEARS}, got {linears!r}")
        import dnc  # noqa: F401  (fail here, at make_backend, when it is not importable)
        self.device, self.dtype = torch.device(device), _DTYPES[dtype]
        self.patches, self.trace_level, self.linears = tuple(patches), trace, linears
        self.name = f"pytorch-dnc-{device}-{dtype}"

    def supports(self, config):
        return unsupported_reason(_cfg(config))

    def build(self, cfg):
        from dnc import DNC
        width = max(cfg["input_size"], cfg["output_size"])
        with torch.random.fork_rng(devices=[]):   # its random init (overwritten by load)
            model = DNC(input_size=width, hidden_size=cfg["controller_size"],
                        rnn_type="lstm" if cfg["controller"] == "lstm" else "rnn",
                        num_layers=1, num_hidden_layers=1, nr_cells=cfg["memory_rows"],
                        read_heads=cfg["read_heads"], cell_size=cfg["memory_width"],
                        nonlinearity="tanh", batch_first=True,
                        independent_linears=self.linears == "independent")
        model = model.to(self.device, self.dtype)
        for p in self.patches:
            if p.on_model:
                p.on_model(model)
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
        stepwise = any(p.stepwise for p in self.patches)
        with contextlib.ExitStack() as stack:
            for p in self.patches:
                if p.during_run:
                    stack.enter_context(p.during_run())
            model = self.build(cfg)
            leaves = load(model, cfg, params, self.dtype, self.device)
            recorder = stack.enter_context(observe.Recorder(model, self.trace_level))
            with torch.set_grad_enabled(want_grads):
                state = initial_state(model, cfg, leaves, x.shape[0])
                logits, trace = recorder.run(pad_inputs(x, model.input_size), state,
                                             stepwise, cfg["output_size"])
                per_entry = F.binary_cross_entropy_with_logits(logits, z, reduction="none")
                loss = (m * per_entry.sum(-1)).sum(-1)
                result = Result(logits=_np(logits), loss=_np(loss))
                if want_grads:
                    shapes = {k: np.shape(v) for k, v in params.items()}
                    result.grads, result.grad_inputs = gradients(model, cfg, leaves, shapes,
                                                                 loss.sum(), x)
        if want_trace:
            result.trace = {k: _np(v) for k, v in trace.items()}
        return result


def _cfg(config):
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def _np(t):
    return t.detach().cpu().numpy()


def pad_inputs(x, width):
    """x [B, T, X] -> [B, T, width]: zero columns for a DNC built wider than X."""
    extra = width - x.shape[-1]
    return x if extra == 0 else torch.cat([x, x.new_zeros(x.shape[:-1] + (extra,))], -1)


def initial_state(model, cfg, leaves, batch):
    """dnc/1's state at t = -1 as pytorch-dnc's ``hx``: (controller state, [memory state],
    previous reads).  Memory and reads from ``init.memory`` and ``init.read``; usage,
    weightings, precedence and links zero (pytorch-dnc's ``Memory.new``, in the run's
    dtype); the controller's h (and the LSTM's cell) zero."""
    H, N, R, W = cfg["controller_size"], cfg["memory_rows"], cfg["read_heads"], \
        cfg["memory_width"]
    like = leaves["init.memory"]
    zeros = lambda *shape: like.new_zeros(shape)   # noqa: E731
    h = zeros(1, batch, H)
    chx = [(h, zeros(1, batch, H)) if cfg["controller"] == "lstm" else h]
    mhx = {"memory": leaves["init.memory"].expand(batch, N, W),
           "link_matrix": zeros(batch, 1, N, N), "precedence": zeros(batch, 1, N),
           "read_weights": zeros(batch, R, N), "write_weights": zeros(batch, 1, N),
           "usage_vector": zeros(batch, N)}
    return chx, [mhx], leaves["init.read"].reshape(1, R * W).expand(batch, R * W)


# ---------------------------------------------------------------- parameters

def _controller(model):
    return model.rnns[0]


def _interface_rows(cfg):
    """[(pytorch-dnc Linear name, first row, rows)] of DNC.md's interface, in order."""
    R, W = cfg["read_heads"], cfg["memory_width"]
    size = {"RW": R * W, "R": R, "W": W, "1": 1, "3R": 3 * R}
    out, start = [], 0
    for name, unit in FIELDS:
        out.append((name, start, size[unit]))
        start += size[unit]
    return out


def slots(model, cfg):
    """DNC.md name -> [(pytorch-dnc tensor, index into the DNC.md array, index into the
    tensor)]: where each parameter goes (``load``) and where its gradient comes from."""
    X, Y, H = cfg["input_size"], cfg["output_size"], cfg["controller_size"]
    R, W = cfg["read_heads"], cfg["memory_width"]
    U = X + R * W
    width = max(X, Y)
    rnn, memory = _controller(model), model.memories[0]
    all_ = slice(None)
    rows = slice(None)
    out = {
        # [x ; reads] in dnc/1, [x (padded to `width`) ; reads] in pytorch-dnc.
        "controller.weight": [(rnn.weight_ih_l0, (rows, slice(0, X)), (all_, slice(0, X))),
                              (rnn.weight_ih_l0, (rows, slice(X, U)),
                               (all_, slice(width, width + R * W)))],
        "controller.bias": [(rnn.bias_ih_l0, all_, all_)],
        "output.weight": [(model.output.weight, all_, slice(0, Y))],
        "output.bias": [(model.output.bias, all_, slice(0, Y))],
    }
    if cfg["controller"] == "lstm":
        out["controller.weight"].append((rnn.weight_hh_l0, (rows, slice(U, None)), all_))
    if hasattr(memory, "interface_weights"):
        out["interface.weight"] = [(memory.interface_weights.weight, all_, all_)]
        out["interface.bias"] = [(memory.interface_weights.bias, all_, all_)]
    else:
        fields = _interface_rows(cfg)
        out["interface.weight"] = [(getattr(memory, n).weight, slice(s, s + k), all_)
                                   for n, s, k in fields]
        out["interface.bias"] = [(getattr(memory, n).bias, slice(s, s + k), all_)
                                 for n, s, k in fields]
    return out


def load(model, cfg, params, dtype, device):
    """Copy diffmem's parameters into the tensors pytorch-dnc's forward reads; returns the
    initial-state leaves {"init.memory", "init.read"} (tensors that take gradients)."""
    tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
    with torch.no_grad():
        rnn = _controller(model)
        for t in (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_hh_l0, model.output.weight,
                  model.output.bias):
            t.zero_()      # padding columns and rows, the RNN's recurrence, the second bias
        for name, parts in slots(model, cfg).items():
            value = tensor(params[name])
            for target, ours, theirs in parts:
                target[theirs] = value[ours].reshape(target[theirs].shape)
    return {name: tensor(params[name]).requires_grad_(True)
            for name in ("init.memory", "init.read")}


def gradients(model, cfg, leaves, shapes, loss, x):
    """d loss / d (every DNC.md parameter, of ``shapes``, and the inputs)."""
    parts = slots(model, cfg)
    tensors = list({id(t): t for ps in parts.values() for t, _, _ in ps}.values())
    wrt = tensors + list(leaves.values()) + [x]
    got = torch.autograd.grad(loss, wrt, allow_unused=True)
    by_id = {id(t): g for t, g in zip(wrt, got)}
    grads = {}
    for name, ps in parts.items():
        full = np.zeros(shapes[name])
        for t, ours, theirs in ps:
            g = by_id.get(id(t))
            if g is not None:
                full[ours] = _np(g[theirs]).reshape(full[ours].shape)
        grads[name] = full
    for name, leaf in leaves.items():
        g = by_id.get(id(leaf))
        grads[name] = np.zeros(tuple(leaf.shape)) if g is None else _np(g)
    dtype = np.float64 if x.dtype == torch.float64 else np.float32
    grads = {k: v.astype(dtype) for k, v in grads.items()}
    gx = by_id.get(id(x))
    return grads, (_np(gx) if gx is not None else np.zeros(tuple(x.shape), dtype))

