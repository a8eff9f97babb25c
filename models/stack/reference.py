"""The frozen reference of STACKS.md Part 1: neural stack, queue and deque, one sequence
at a time, numpy (``autograd.numpy``) float64, gradients by autograd.

Deliberately dumb: rows are Python lists of scalars, every SUM is a Python loop, one
plain function per operation, in the spec's words.  Speed does not matter.

Ties follow the spec's LEFT-argument rule: ``relu_left`` (max(0, x), derivative 1 only
for x > 0) and ``min_left`` (min(a, b), the whole gradient to a when a == b) are
``np.where`` selections, whose gradient goes to the selected branch only; autograd's
``np.maximum`` / ``np.minimum`` split ties 0.5/0.5 and are not used.

Order of summation (the spec is silent; rounding only, but it decides exact ties, so it
is fixed here and the batched form uses the same): a sum over the rows above row i,
SUM_{j>i}, is accumulated from the top row down to row i+1; a sum over the rows below,
SUM_{j<i}, from row 1 up to row i-1.  That is the order of a cumulative sum that starts
at the end the pop and the read act on (the batched form's reversed / plain cumsum).

Rows are 0-based in the code (row i here is the spec's row i+1).
"""

from __future__ import annotations

import autograd.numpy as np
import numpy as onp   # the trace: plain values, never differentiated
from autograd import value_and_grad
from autograd.tracer import getval

from diffmem.reference.functions import sigmoid, softplus
from diffmem.reference.precision import LOW_PRECISION, compute_dtype, emulating, matmul
from diffmem.reference.vjp import with_vjp

from .config import StackConfig
from .layout import (split_interface, trace_entries, trace_rows, validate_data,
                     validate_params)

DTYPES = ("float64", "float32") + LOW_PRECISION


# ---------------------------------------------------------------- the tie rule

def relu_left(x):
    """max(0, x); d/dx = 1 for x > 0, 0 for x <= 0 (the LEFT argument, 0, at x == 0)."""
    return np.where(x > 0, x, onp.zeros_like(getval(x)))


def min_left(a, b):
    """min(a, b); at a == b the value and the whole gradient are a's."""
    return np.where(a <= b, a, b)


# ---------------------------------------------------------------- sums over rows

def sums_above(s):
    """[SUM_{j>i} s[j] for every row i]: one running sum from the top row down, so row
    i's is s[top] + s[top-1] + ... + s[i+1] added in that order."""
    out = [None] * len(s)
    total = onp.zeros_like(getval(s[0])) if s else None
    for i in reversed(range(len(s))):
        out[i] = total
        total = total + s[i]
    return out


def sums_below(s):
    """[SUM_{j<i} s[j] for every row i]: one running sum from row 0 up."""
    out = [None] * len(s)
    total = onp.zeros_like(getval(s[0])) if s else None
    for i in range(len(s)):
        out[i] = total
        total = total + s[i]
    return out


# ---------------------------------------------------------------- pops (STACKS.md 3-5)

def pop_top(s, u):
    """s'[i] = max(0, s[i] - max(0, u - SUM_{j>i} s[j])): a pop at the top (stack, deque)."""
    above = sums_above(s)
    return [relu_left(s[i] - relu_left(u - above[i])) for i in range(len(s))]


def pop_bottom(s, u):
    """s'[i] = max(0, s[i] - max(0, u - SUM_{j<i} s[j])): a pop at the bottom (queue, deque)."""
    below = sums_below(s)
    return [relu_left(s[i] - relu_left(u - below[i])) for i in range(len(s))]


# ---------------------------------------------------------------- reads

def weighted_rows(w, V):
    """SUM_i w[i] V[i], rows added from row 0 up (w[i] per sequence, V[i] [..., m])."""
    r = onp.zeros_like(getval(V[0]))
    for i in range(len(V)):
        r = r + w[i][..., None] * V[i]
    return r


def read_top(s, V):
    """r = SUM_i min(s[i], max(0, 1 - SUM_{j>i} s[j])) V[i]: the stack's read."""
    above = sums_above(s)
    return weighted_rows([min_left(s[i], relu_left(1.0 - above[i])) for i in range(len(s))], V)


def read_bottom(s, V):
    """r = SUM_i min(s[i], max(0, 1 - SUM_{j<i} s[j])) V[i]: the queue's read."""
    below = sums_below(s)
    return weighted_rows([min_left(s[i], relu_left(1.0 - below[i])) for i in range(len(s))], V)


# ---------------------------------------------------------------- one step's structure

def stack_update(s_prev, V_prev, d, u, v):
    """Pop what was there before this step's push, then push (v, d) on top."""
    return pop_top(s_prev, u) + [d], V_prev + [v]


def queue_update(s_prev, V_prev, d, u, v):
    """Pop at the oldest row (bottom), push (v, d) at the newest (top)."""
    return pop_bottom(s_prev, u) + [d], V_prev + [v]


def deque_update(s_prev, V_prev, act):
    """Pop top, then pop bottom (on the top-popped strengths), then push at both ends:
    the new bottom row becomes row 0, every old row moves up one, the new top row last."""
    s1 = pop_top(s_prev, act["pop.top"])
    s2 = pop_bottom(s1, act["pop.bottom"])
    s = [act["push.bottom"]] + s2 + [act["push.top"]]
    V = [act["value.bottom"]] + V_prev + [act["value.top"]]
    return s, V


# ---------------------------------------------------------------- 1, 2, 6: the layers
# The batch's sequences are independent; every array below has them on its first axis
# (a row of the structure holds one strength per sequence, [B], and one value, [B, m]),
# so each operation is one array operation for the whole batch: the same math, at a cost
# the held-out sizes (B = 33, T = 40) can afford under autograd.

def _linear_vjp(g, y, weight, x, bias):
    # y = x W^T + b over the rows of x: gW = g^T x, gx = g W, gb = SUM_rows g (matrix
    # products through ``matmul``, so a low-precision mode rounds them as NTM.md's).
    return matmul(g.T, x), matmul(g, weight), onp.sum(g, axis=0)


@with_vjp(_linear_vjp)
def linear(weight, x, bias):
    """x W^T + b for x [B, in], W as [out, in] (NTM.md's ``linear``, one row a sequence)."""
    return matmul(x, weight.T) + bias


def controller(params, cfg, h, cell, read, x):
    """1. c_t from u_t = [x_t ; r_{t-1}] (deque: [x_t ; r^top_{t-1} ; r^bot_{t-1}]):
    feedforward tanh(W u + b), or NTM.md's LSTM on [u_t ; h_{t-1}], gates i, f, g, o."""
    u = np.concatenate([x, np.reshape(read, (x.shape[0], -1))], axis=1)
    if cfg.controller == "feedforward":
        return np.tanh(linear(params["controller.weight"], u, params["controller.bias"])), None
    z = linear(params["controller.weight"], np.concatenate([u, h], axis=1),
               params["controller.bias"])
    H = cfg.H
    i, f = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H])
    g, o = np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
    cell = f * cell + i * g
    return o * np.tanh(cell), cell


def interface(params, c):
    """2. xi_t = W_xi c_t + b_xi."""
    return linear(params["interface.weight"], c, params["interface.bias"])


def activations(raw):
    """2. d = sigmoid(d^) (push), u = sigmoid(u^) (pop), v = tanh(v^) (value)."""
    return {name: (np.tanh(z) if name.startswith("value") else sigmoid(z))
            for name, z in raw.items()}


def output(params, c, read):
    """6. y_t = W_y [c_t ; r_t] + b_y (deque [c_t ; r^top_t ; r^bot_t])."""
    flat = np.reshape(read, (c.shape[0], -1))
    return linear(params["output.weight"], np.concatenate([c, flat], axis=1),
                  params["output.bias"])


# ---------------------------------------------------------------- the step

def initial_state(params, cfg, batch):
    """No rows; r_0 = init.read (deque: row 0 top, row 1 bottom); zero LSTM state."""
    zeros = np.zeros((batch, cfg.H), dtype=params["init.read"].dtype)
    read = params["init.read"][None] * np.ones((batch,) + (1,) * params["init.read"].ndim,
                                               dtype=zeros.dtype)
    return {"h": zeros, "cell": zeros, "read": read, "s": [], "V": []}


def step(params, cfg, state, x):
    """One step for the batch (x [B, X]); returns (next state, record of trace name ->
    [B, ...], the strengths unpadded: a list of rows)."""
    record = {}
    c, cell = controller(params, cfg, state["h"], state["cell"], state["read"], x)
    record["controller"] = c
    if cell is not None:
        record["controller_cell"] = cell
    xi = interface(params, c)
    record["interface"] = xi
    act = activations(split_interface(xi, cfg))
    record.update(act)
    if cfg.model == "stack":
        s, V = stack_update(state["s"], state["V"], act["push"], act["pop"], act["value"])
        read = record["read"] = read_top(s, V)
    elif cfg.model == "queue":
        s, V = queue_update(state["s"], state["V"], act["push"], act["pop"], act["value"])
        read = record["read"] = read_bottom(s, V)
    else:
        s, V = deque_update(state["s"], state["V"], act)
        record["read.top"], record["read.bottom"] = read_top(s, V), read_bottom(s, V)
        read = np.stack([record["read.top"], record["read.bottom"]], axis=1)
    record["strength"] = s
    record["logits"] = output(params, c, read)
    next_state = {"h": c, "cell": cell if cell is not None else state["cell"],
                  "read": read, "s": s, "V": V}
    return next_state, record


def padded_strength(cfg, s, t, steps, like):
    """The rows of step t (1-based), [B] each, laid out in the trace's T (deque 2T)
    entries (layout.py): [B, T or 2T]."""
    out = onp.zeros((like.shape[0], steps * cfg.ends), dtype=like.dtype)
    for row, entry in enumerate(trace_rows(cfg, t, steps)):
        out[:, entry] = getval(s[row])
    return out


def forward(params, cfg, inputs, want_trace=False):
    """inputs [B, T, X] -> (logits [B, T, Y], trace name -> [B, T, ...] or None)."""
    params = {name: params[name] for name in getval(params)}
    steps = inputs.shape[1]
    state = initial_state(params, cfg, inputs.shape[0])
    logits, records = [], []
    for t in range(steps):
        state, record = step(params, cfg, state, inputs[:, t])
        logits.append(record["logits"])
        if want_trace:
            strength = padded_strength(cfg, record["strength"], t + 1, steps, getval(inputs))
            records.append({e.name: strength if e.name == "strength" else getval(record[e.name])
                            for e in trace_entries(cfg)})   # in stage order
    trace = None
    if want_trace:
        trace = {k: onp.stack([onp.asarray(r[k]) for r in records], axis=1) for k in records[0]}
    return np.stack(logits, axis=1), trace


# ---------------------------------------------------------------- loss

def logsumexp(y):
    """max + log SUM exp(y - max) over the last axis, the max outside the gradient (it is
    constant in value)."""
    top = onp.max(getval(y), axis=-1, keepdims=True)
    return top[..., 0] + np.log(np.sum(np.exp(y - top), axis=-1))


def step_loss(cfg, y, target):
    """[B]: bce SUM_Y softplus(y) - z y (NTM.md); softmax logsumexp(y) - SUM_Y z y (nats)."""
    if cfg.loss == "bce":
        return np.sum(softplus(y) - target * y, axis=-1)
    return logsumexp(y) - np.sum(target * y, axis=-1)


def sequence_loss(cfg, logits, targets, mask):
    """[B]: SUM_t mask_t * step_loss_t (logits, targets [B, T, Y], mask [B, T])."""
    total = onp.zeros_like(getval(mask[:, 0]))
    for t in range(logits.shape[1]):
        total = total + mask[:, t] * step_loss(cfg, logits[:, t], targets[:, t])
    return total


# ---------------------------------------------------------------- running

def run_batch(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
              want_grads=True, product_results="format"):
    """A batch: inputs [B, T, X], targets [B, T, Y], mask [B, T].

    Returns ``logits`` [B, T, Y], ``loss`` [B], and when asked ``trace`` (name ->
    [B, T, ...]), ``grads`` (of the summed loss: summed over the batch), ``grad_inputs``
    [B, T, X].  ``dtype``: float64, float32, or a low-precision mode (tf32, bfloat16,
    float16: float32 with the three linear layers' matrix products rounded as
    ``diffmem.reference.precision`` emulates them; nothing else here is a matrix product).
    """
    if not isinstance(cfg, StackConfig):
        raise ValueError(f"config: expected a StackConfig (StackConfig.from_dict makes one "
                         f"from a dict), got {type(cfg).__name__}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    work = compute_dtype(dtype)
    params = {k: v.astype(work) for k, v in validate_params(params, cfg).items()}
    inputs, targets, mask = (a.astype(work) for a in
                             validate_data(cfg, inputs, targets, mask, batched=True))
    out = {}

    def total_loss(packed):
        logits, trace = forward(packed[0], cfg, packed[1], want_trace)
        out["logits"], out["trace"] = getval(logits), trace
        losses = sequence_loss(cfg, logits, targets, mask)
        out["loss"] = onp.asarray(getval(losses), dtype=work)
        return np.sum(losses)

    # The reference sigmoid's gradient 1/cosh^2 overflows harmlessly to 0 for |z| > ~1400.
    with emulating(dtype if dtype in LOW_PRECISION else None, product_results), \
            onp.errstate(over="ignore"):
        if want_grads:
            _, (grads, grad_inputs) = value_and_grad(total_loss)((params, inputs))
        else:
            total_loss((params, inputs))
    result = {"logits": out["logits"], "loss": out["loss"]}
    if want_trace:
        result["trace"] = out["trace"]
    if want_grads:
        result["grads"] = {k: onp.asarray(grads[k]) for k in params}
        result["grad_inputs"] = onp.asarray(grad_inputs)
    return result
