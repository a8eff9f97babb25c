"""The frozen float64 reference of the Stack-RNN (STACKS.md Part 2; Joulin & Mikolov 2015).

Plain numpy (``autograd.numpy``: gradients are autograd's reverse mode through exactly
this code), one function per operation, the batch and the stacks on leading axes
(written with einsum; a Python loop per sequence, stack and row made a 33 x 40 held-out
batch take a minute under autograd).  The stack update is written with shift matrices;
the batched form uses concatenation: two different programs for the harness to compare.

    h_t = sigmoid(U x_t + R h_{t-1} + SUM_s P_s s_{t-1}[0:k] + bias.hidden)
    a_t = softmax(A_s h_t + bias.action_s)              over the actions, per stack s
    p_t = sigmoid(clip(D_s h_t + bias.push_s, -50, 50))  per stack s
    s_t[0]   = a_push p_t          + a_pop s_{t-1}[1]   + a_noop s_{t-1}[0]
    s_t[i]   = a_push s_{t-1}[i-1] + a_pop s_{t-1}[i+1] + a_noop s_{t-1}[i]
    s_t[D-1] = a_push s_{t-1}[D-2] + a_pop EMPTY        + a_noop s_{t-1}[D-1]
    y_t = V h_t + bias.output                            (logits; softmax in the loss)

Choices where the spec is silent:
- h_0 = 0 and s_0 = EMPTY everywhere (EMPTY = -1, the paper's code); nothing is learned
  for the initial state.
- With actions ("push", "pop") the a_noop terms are absent.
- The clip of the push pre-activation (StackRNN.h clips it to [-50, 50]) passes the
  gradient unchanged on the closed interval [-50, 50] and 0 strictly outside: written as
  ``where(z > 50, 50, where(z < -50, -50, z))``, so at exactly +-50 the gradient goes to
  z (the LEFT-argument tie rule of min(max(z, -50), 50)).
- Loss, nats: SUM_t mask_t (logsumexp(y_t) - SUM_j target_tj y_tj).  Targets are one-hot
  (or distributions summing to 1); a step with mask 0 contributes nothing.
- dtype: float64 and float32 only; the low-precision modes of the NTM's reference are not
  defined for this family (ValueError).
"""

import autograd.numpy as np
from autograd import grad
from autograd.tracer import getval

from .config import StackRNNConfig
from .layout import param_shapes, validate_data, validate_params

EMPTY = -1.0
CLIP = 50.0
DTYPES = ("float64", "float32")


# ---------------------------------------------------------------- functions

def sigmoid(z):
    """1 / (1 + e^-z), exact to float64 rounding *relatively* on both tails: the tanh form
    (0.5 tanh(z/2) + 0.5) rounds sigmoid(-50) = 1.9e-22, the clipped push value's floor, to
    exactly 0, which a correct kernel's 1.9e-22 would then differ from by 100 %.  Both
    branches are finite for every z (e^-|z| <= 1), so neither gradient is NaN."""
    a = np.where(z >= 0, z, -z)
    e = np.exp(-a)
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softmax(z):
    """Over the last axis; the max is constant in value: taken outside the gradient."""
    e = np.exp(z - np.max(getval(z), axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def logsumexp(z):
    """Over the last axis, the max outside the gradient."""
    m = np.max(getval(z), axis=-1)
    return m + np.log(np.sum(np.exp(z - m[..., None]), axis=-1))


def clip(z):
    """z limited to [-CLIP, CLIP]; gradient 1 on the closed interval, 0 outside."""
    return np.where(z > CLIP, CLIP, np.where(z < -CLIP, -CLIP, z))


# ---------------------------------------------------------------- one step
# Every array carries the batch on its first axis (b); einsum strings name the axes:
# h hidden, v symbol, s stack, j top row, a action, d stack row.

def hidden(params, cfg, x, h_prev, stack_prev):
    """1. h_t [B, H] from x_t [B, V], h_{t-1} [B, H] and s_{t-1} [B, K, D]."""
    top = stack_prev[:, :, :cfg.k]                                   # s_{t-1}[0:k]
    z = (np.einsum("hv,bv->bh", params["U"], x)
         + np.einsum("hg,bg->bh", params["R"], h_prev)
         + np.einsum("shj,bsj->bh", params["P"], top)                # SUM over stacks
         + params["bias.hidden"])
    return sigmoid(z)


def actions(params, cfg, h):
    """2. (action [B, K, actions], push_value [B, K]) from h_t."""
    action = softmax(np.einsum("sah,bh->bsa", params["A"], h) + params["bias.action"])
    push_value = sigmoid(clip(np.einsum("sh,bh->bs", params["D"], h) + params["bias.push"]))
    return action, push_value


def shift_matrices(D, dtype):
    """(down, up): (down s)[i] = s[i-1] with 0 at the top, (up s)[i] = s[i+1] with 0 at
    the bottom.  A push is ``down s + p e_0``, a pop ``up s + EMPTY e_{D-1}``."""
    return np.eye(D, k=-1, dtype=dtype), np.eye(D, k=1, dtype=dtype)


def stack_update(cfg, stack_prev, action, push_value):
    """3. s_t = a_push (down s + p e_0) + a_pop (up s + EMPTY e_{D-1}) [+ a_noop s]: the
    spec's three row equations at once, for every stack."""
    D = cfg.D
    dtype = getval(stack_prev).dtype
    down, up = shift_matrices(D, dtype)
    first, last = np.eye(D, dtype=dtype)[0], np.eye(D, dtype=dtype)[D - 1]
    pushed = np.einsum("ed,bsd->bse", down, stack_prev) + push_value[:, :, None] * first
    popped = np.einsum("ed,bsd->bse", up, stack_prev) + EMPTY * last
    a_push, a_pop = action[:, :, 0, None], action[:, :, 1, None]
    new = a_push * pushed + a_pop * popped
    if "noop" in cfg.actions:
        new = new + action[:, :, 2, None] * stack_prev
    return new


def output(params, h):
    """4. logits y_t [B, V]."""
    return np.einsum("vh,bh->bv", params["V"], h) + params["bias.output"]


def forward(params, cfg, inputs, want_trace=True):
    """inputs [B, T, V] -> (logits [B, T, V], trace name -> [B, T, ...] or None)."""
    dtype = getval(inputs).dtype
    B, T = inputs.shape[0], inputs.shape[1]
    # Each params[name] is an operation under autograd: look every name up once.
    params = {name: params[name] for name in param_shapes(cfg)}
    h = np.zeros((B, cfg.H), dtype=dtype)                      # h_0 = 0
    stack = np.full((B, cfg.K, cfg.D), EMPTY, dtype=dtype)     # s_0 all EMPTY
    logits, trace = [], {"hidden": [], "action": [], "push_value": [], "stack": [],
                         "logits": []}
    for t in range(T):
        h = hidden(params, cfg, inputs[:, t], h, stack)
        action, push_value = actions(params, cfg, h)
        stack = stack_update(cfg, stack, action, push_value)
        y = output(params, h)
        logits.append(y)
        for name, value in (("hidden", h), ("action", action), ("push_value", push_value),
                            ("stack", stack), ("logits", y)):
            trace[name].append(getval(value))
    trace = {k: np.stack(v, axis=1) for k, v in trace.items()} if want_trace else None
    return np.stack(logits, axis=1), trace


def sequence_loss(logits, targets, mask):
    """Per sequence [B]: SUM_t mask_t (logsumexp(y_t) - SUM_j target_tj y_tj), nats."""
    per_step = logsumexp(logits) - np.sum(targets * logits, axis=-1)    # [B, T]
    return np.sum(mask * per_step, axis=-1)


# ---------------------------------------------------------------- running

def run_batch(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
              want_grads=True):
    """inputs, targets [B, T, V], mask [B, T] -> {"logits" [B, T, V], "loss" [B],
    "trace" name -> [B, T, ...], "grads" name -> param shape (of the summed loss: summed
    over the batch), "grad_inputs" [B, T, V]}.  The sequences of a batch never mix, so
    the gradient of the summed loss in inputs[b] is that of sequence b's own loss."""
    if not isinstance(cfg, StackRNNConfig):
        raise ValueError(f"config: expected a StackRNNConfig (StackRNNConfig.from_dict makes "
                         f"one from a dict), got {type(cfg).__name__}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES} for the stackrnn/1 reference "
                         f"(no low-precision emulation), got {dtype!r}")
    params = {k: v.astype(dtype) for k, v in validate_params(params, cfg).items()}
    inputs, targets, mask = (a.astype(dtype) for a in validate_data(cfg, inputs, targets, mask))
    out = {}

    def total_loss(packed):
        logits, trace = forward(packed[0], cfg, packed[1], want_trace)
        loss = sequence_loss(logits, targets, mask)
        out["logits"], out["loss"] = getval(logits), getval(loss)
        if want_trace:
            out["trace"] = trace
        return np.sum(loss)

    if want_grads:
        out["grads"], out["grad_inputs"] = grad(total_loss)((params, inputs))
    else:
        total_loss((params, inputs))
    return out
