"""The frozen float64 reference of the Stack-RNN (STACKS.md Part 2; Joulin & Mikolov 2015).

Plain numpy (``autograd.numpy``: gradients are autograd's reverse mode through exactly
this code), one sequence at a time, one function per operation, loops where clearer.

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
from autograd import value_and_grad
from autograd.tracer import getval

from .config import StackRNNConfig
from .layout import validate_data, validate_params

EMPTY = -1.0
CLIP = 50.0
DTYPES = ("float64", "float32")


# ---------------------------------------------------------------- functions

def sigmoid(z):
    # tanh form: no overflow for any z, exactly 0.5 at 0.
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


def softmax(z):
    # The max is constant in value: taken outside the gradient.
    e = np.exp(z - np.max(getval(z)))
    return e / np.sum(e)


def logsumexp(z):
    m = np.max(getval(z))
    return m + np.log(np.sum(np.exp(z - m)))


def clip(z):
    """z limited to [-CLIP, CLIP]; gradient 1 on the closed interval, 0 outside."""
    return np.where(z > CLIP, CLIP, np.where(z < -CLIP, -CLIP, z))


# ---------------------------------------------------------------- one step

def hidden(params, cfg, x, h_prev, stack_prev):
    """1. h_t from x_t [V], h_{t-1} [H] and s_{t-1} [K, D]."""
    z = params["U"] @ x + params["R"] @ h_prev + params["bias.hidden"]
    for s in range(cfg.K):
        z = z + params["P"][s] @ stack_prev[s, :cfg.k]
    return sigmoid(z)


def actions(params, cfg, h):
    """2. (action [K, actions], push_value [K]) from h_t."""
    action, push_value = [], []
    for s in range(cfg.K):
        action.append(softmax(params["A"][s] @ h + params["bias.action"][s]))
        push_value.append(sigmoid(clip(params["D"][s] @ h + params["bias.push"][s])))
    return np.stack(action), np.stack(push_value)


def stack_update(cfg, stack_prev, action, push_value):
    """3. s_t [K, D] from s_{t-1}, the actions and the pushed values, row by row."""
    D = cfg.D
    noop = "noop" in cfg.actions
    stacks = []
    for s in range(cfg.K):
        a_push, a_pop = action[s, 0], action[s, 1]
        old = stack_prev[s]
        rows = []
        for i in range(D):
            above = push_value[s] if i == 0 else old[i - 1]     # what a push moves here
            below = EMPTY if i == D - 1 else old[i + 1]          # what a pop moves here
            row = a_push * above + a_pop * below
            if noop:
                row = row + action[s, 2] * old[i]
            rows.append(row)
        stacks.append(np.stack(rows))
    return np.stack(stacks)


def output(params, h):
    """4. logits y_t [V]."""
    return params["V"] @ h + params["bias.output"]


def forward(params, cfg, inputs, want_trace=True):
    """inputs [T, V] -> (logits [T, V], trace name -> [T, ...] or None)."""
    dtype = getval(inputs).dtype
    h = np.zeros(cfg.H, dtype=dtype)
    stack = np.full((cfg.K, cfg.D), EMPTY, dtype=dtype)
    logits, trace = [], {"hidden": [], "action": [], "push_value": [], "stack": [],
                         "logits": []}
    for t in range(inputs.shape[0]):
        h = hidden(params, cfg, inputs[t], h, stack)
        action, push_value = actions(params, cfg, h)
        stack = stack_update(cfg, stack, action, push_value)
        y = output(params, h)
        logits.append(y)
        for name, value in (("hidden", h), ("action", action), ("push_value", push_value),
                            ("stack", stack), ("logits", y)):
            trace[name].append(getval(value))
    trace = {k: np.stack(v) for k, v in trace.items()} if want_trace else None
    return np.stack(logits), trace


def sequence_loss(logits, targets, mask):
    """SUM_t mask_t (logsumexp(y_t) - SUM_j target_tj y_tj): cross-entropy in nats."""
    total = 0.0
    for t in range(logits.shape[0]):
        total = total + mask[t] * (logsumexp(logits[t]) - np.sum(targets[t] * logits[t]))
    return total


# ---------------------------------------------------------------- running

def _run_one(cfg, params, inputs, targets, mask, want_trace, want_grads):
    out = {}

    def loss_of(packed):
        logits, trace = forward(packed[0], cfg, packed[1], want_trace)
        out["logits"], out["trace"] = getval(logits), trace
        return sequence_loss(logits, targets, mask)

    if want_grads:
        loss, (grads, grad_inputs) = value_and_grad(loss_of)((params, inputs))
        out["grads"], out["grad_inputs"] = grads, grad_inputs
    else:
        loss = loss_of((params, inputs))
    out["loss"] = np.asarray(loss, dtype=inputs.dtype)
    return out


def run_batch(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
              want_grads=True):
    """A batch, one sequence at a time: inputs, targets [B, T, V], mask [B, T] ->
    {"logits" [B, T, V], "loss" [B], "trace" name -> [B, T, ...], "grads" name -> param
    shape (summed over the batch), "grad_inputs" [B, T, V]}."""
    if not isinstance(cfg, StackRNNConfig):
        raise ValueError(f"config: expected a StackRNNConfig (StackRNNConfig.from_dict makes "
                         f"one from a dict), got {type(cfg).__name__}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES} for the stackrnn/1 reference "
                         f"(no low-precision emulation), got {dtype!r}")
    params = {k: v.astype(dtype) for k, v in validate_params(params, cfg).items()}
    inputs, targets, mask = (a.astype(dtype) for a in validate_data(cfg, inputs, targets, mask))
    runs = [_run_one(cfg, params, inputs[b], targets[b], mask[b], want_trace, want_grads)
            for b in range(inputs.shape[0])]
    result = {"logits": np.stack([r["logits"] for r in runs]),
              "loss": np.stack([r["loss"] for r in runs])}
    if want_trace:
        result["trace"] = {k: np.stack([r["trace"][k] for r in runs]) for k in runs[0]["trace"]}
    if want_grads:
        result["grads"] = {k: sum(r["grads"][k] for r in runs) for k in params}
        result["grad_inputs"] = np.stack([r["grad_inputs"] for r in runs])
    return result
