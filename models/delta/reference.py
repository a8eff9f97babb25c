"""The frozen reference of delta/1 (DELTA.md, "One step"): the per-step recurrence, numpy
(``autograd.numpy``) float64, gradients by autograd.

Deliberately dumb: one sequence at a time, one step at a time, the five numbered
operations of the spec as five plain functions, vectorised over the value heads only.
Speed matters only in that the held-out draws run it on every check (T <= 256).

The float32 and low-precision baselines (DELTA.md, "Numerics") are two styles of kernel,
and a run's error bound is sized by the farther of the two from float64, element by
element (``harness/baselines.py``'s rule):

- style (a), the recurrence: this module in float32 (in bfloat16 / float16: from q, k, v
  and do rounded to the format at entry, o rounded to it);
- style (b), the chunked WY form with C = 64: ``BatchedDelta`` over ``AutogradOps``
  below, in float32 (in bfloat16 / float16: q, k, v, do rounded at entry, every
  product's operands in the format with float32 accumulation, A, w, u, d and the chunk
  states stored in the format, o rounded; in tf32 only the products' operands are
  rounded, to TF32: a tf32 kernel holds and stores float32).

``run_batch(..., dtype="float32")`` and ``dtype="tf32"`` return that farther run
themselves (they make the float64 run to measure it); for bfloat16 and float16 the
harness asks for each style by ``product_results`` ("float32": style (a), "format":
style (b)) and takes the farther itself.  Roundings pass gradients straight through.
"""

from __future__ import annotations

import autograd.numpy as np
import numpy as onp
from autograd import value_and_grad
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

from diffmem.reference.precision import LOW_PRECISION, round_to

from .batched import EPS, BatchedDelta
from .config import DeltaConfig
from .layout import param_shapes, sequences, split_inputs, state_positions, trace_entries

DTYPES = ("float64", "float32") + LOW_PRECISION


# ---------------------------------------------------------------- rounding (emulation)

@primitive
def rounded(x, mode):
    """x rounded to the mode's format (float32 values); the gradient passes through."""
    return round_to(x, mode)


defvjp(rounded, lambda ans, x, mode: lambda g: g)


# ---------------------------------------------------------------- one step (DELTA.md 1-5)

def normalise(x):
    """1. x / sqrt(SUM x^2 + 1e-6) over the key axis (fla's in-kernel l2norm)."""
    return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + EPS)


def decay(g):
    """2. alpha = exp(g)."""
    return np.exp(g)


def delta(S, alpha, k, v, beta):
    """3. d = beta (v - (alpha S)^T k): S [HV, K, V], k [HV, K], v [HV, V], beta [HV, 1 or V]."""
    decayed = alpha[:, None, None] * S
    return beta * (v - np.sum(decayed * k[:, :, None], axis=1)), decayed


def state(decayed, k, d):
    """4. S = alpha S_prev + k d^T."""
    return decayed + k[:, :, None] * d[:, None, :]


def output(S, q, scale):
    """5. o = scale S^T q."""
    return scale * np.sum(S * q[:, :, None], axis=1)


def run_sequence(cfg: DeltaConfig, S, x):
    """One sequence: S [HV, K, V] its initial state, x [L, X] its steps.  Returns
    (outputs [L, HV, V] as a list, final state, per-step records)."""
    heads = onp.arange(cfg.HV) // cfg.G
    outs, records = [], []
    for t in range(x.shape[0]):
        p = split_inputs(x[t], cfg)
        q, k = (normalise(p["q"]), normalise(p["k"])) if cfg.qk_l2norm else (p["q"], p["k"])
        alpha = decay(p["g"]) if cfg.gated else onp.ones(cfg.HV, dtype=getval(x).dtype)
        d, decayed = delta(S, alpha, k[heads], p["v"], p["beta"])
        S = state(decayed, k[heads], d)
        o = output(S, q[heads], cfg.scale)
        outs.append(o)
        records.append({"q_norm": q, "k_norm": k, "decay": alpha, "delta": d, "state": S,
                        "output": o})
    return outs, S, records


# ---------------------------------------------------------------- a batch

def forward(cfg: DeltaConfig, params, inputs, want_trace=False):
    """inputs [B, T, X] -> (o [B, T, HV, V], ht [N, HV, K, V], trace or None)."""
    B, T = inputs.shape[0], inputs.shape[1]
    seqs = sequences(cfg, B, T)
    zero = onp.zeros((cfg.HV, cfg.K, cfg.V), dtype=getval(inputs).dtype)
    rows = [[] for _ in range(B)]
    finals, per_row = [], [[] for _ in range(B)]
    for n, (row, bos, eos) in enumerate(seqs):
        h0 = params["h0"][n] if cfg.initial_state else zero
        outs, ht, recs = run_sequence(cfg, h0, inputs[row, bos:eos])
        rows[row] += outs
        per_row[row].append((bos, recs))
        finals.append(ht)
    o = np.stack([np.stack(r, axis=0) for r in rows], axis=0)
    trace = _trace(cfg, per_row, B, T) if want_trace else None
    return o, np.stack(finals, axis=0), trace


def _trace(cfg, per_row, B, T):
    """name -> [B, T, ...] (state: [B, len(state steps), ...]) as plain numpy."""
    out = {}
    for e in trace_entries(cfg):
        rows = []
        for b in range(B):
            steps = []
            for bos, recs in per_row[b]:
                if e.steps is None:
                    steps += [onp.asarray(getval(r[e.name])) for r in recs]
                else:
                    steps += [onp.asarray(getval(recs[p][e.name]))
                              for p in state_positions(len(recs))]
            rows.append(onp.stack(steps, axis=0))
        out[e.name] = onp.stack(rows, axis=0)
    return out


def sequence_loss(cfg: DeltaConfig, params, o, ht, targets, mask):
    """[B]: SUM_t m_bt SUM do o + SUM_{n in row b} SUM dht[n] ht[n]."""
    B, T = targets.shape[0], targets.shape[1]
    out = np.sum(mask * np.sum(targets * np.reshape(o, targets.shape), axis=-1), axis=-1)
    if not cfg.output_final_state:
        return out
    final = np.sum(np.reshape(params["dht"] * ht, (ht.shape[0], -1)), axis=-1)
    return out + (final if cfg.cu_seqlens is None else np.sum(final, keepdims=True))


# ---------------------------------------------------------------- the chunked style (b)

class AutogradOps:
    """The ops table BatchedDelta needs, over autograd.numpy (for the baselines only);
    ``mode`` (a low-precision format) rounds every product's operands and result and
    every stored tensor to it."""

    def __init__(self, mode=None):
        self.mode = mode

    def matmul(self, a, b):
        if self.mode is None:
            return a @ b
        out = rounded(a, self.mode) @ rounded(b, self.mode)
        return self.store(out)

    def store(self, x):
        # tf32 is a way of multiplying, not a storage format: a tf32 kernel stores float32.
        return x if self.mode in (None, "tf32") else rounded(x, self.mode)

    @staticmethod
    def index_array(a):
        return onp.asarray(a)

    exp = staticmethod(np.exp)
    sqrt = staticmethod(np.sqrt)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def cumsum(x, axis):
        return np.cumsum(x, axis=axis)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def concat(xs, axis=0):
        return np.concatenate(list(xs), axis=axis)

    @staticmethod
    def zeros_like_shape(ref, shape):
        return onp.zeros(tuple(shape), dtype=getval(ref).dtype)

    @staticmethod
    def stop_gradient(x):
        return getval(x)


# ---------------------------------------------------------------- running

def _run(cfg, params, inputs, targets, mask, *, work, style, mode, want_trace, want_grads):
    params = {k: onp.asarray(v, dtype=work) for k, v in params.items()}
    inputs, targets, mask = (onp.asarray(a, dtype=work) for a in (inputs, targets, mask))
    if mode in ("bfloat16", "float16"):   # q, k, v and do: what a model holds in the format
        inputs = inputs.copy()
        qkv = 2 * cfg.H * cfg.K + cfg.HV * cfg.V
        inputs[..., :qkv] = round_to(inputs[..., :qkv], mode)
        targets = round_to(targets, mode)
    out = {}
    chunked = BatchedDelta(AutogradOps(mode), cfg) if style == "chunked" else None

    def total(packed):
        p, x = packed
        if chunked is None:
            o, ht, trace = forward(cfg, p, x, want_trace)
        else:
            o, ht, records = chunked.forward(p, x)
            trace = {e.name: onp.asarray(getval(records[e.name])) for e in trace_entries(cfg)} \
                if want_trace else None
        if mode in ("bfloat16", "float16"):
            o = rounded(o, mode)
        out["logits"] = onp.asarray(getval(np.reshape(o, targets.shape)))
        out["trace"] = trace
        losses = sequence_loss(cfg, p, o, ht, targets, mask)
        out["loss"] = onp.asarray(getval(losses), dtype=work)
        return np.sum(losses)

    with onp.errstate(over="ignore", under="ignore"):
        if want_grads:
            _, (grads, grad_inputs) = value_and_grad(total)((params, inputs))
        else:
            total((params, inputs))
    result = {"logits": out["logits"], "loss": out["loss"]}
    if want_trace:
        result["trace"] = out["trace"]
    if want_grads:
        result["grads"] = {k: onp.asarray(grads[k], dtype=work) for k in params}
        result["grad_inputs"] = onp.asarray(grad_inputs, dtype=work)
    return result


def farther(exp64, runs):
    """Element by element the value among ``runs`` farthest from ``exp64`` (nested dicts
    of arrays, the shape of a run); NaN or Inf is farthest (docs/precision.md's rule for
    two kernel styles, as the harness applies it to the modes)."""
    if isinstance(exp64, dict):
        return {k: farther(exp64[k], [r[k] for r in runs]) for k in exp64}
    best = onp.asarray(runs[0])
    for other in runs[1:]:
        d_best, d_other = (onp.abs(onp.asarray(x, dtype=onp.float64) - exp64)
                           for x in (best, other))
        d_best[~onp.isfinite(d_best)] = onp.inf
        d_other[~onp.isfinite(d_other)] = onp.inf
        best = onp.where(d_other > d_best, other, best)
    return best


def validate(cfg, params, inputs, targets, mask):
    if not isinstance(cfg, DeltaConfig):
        raise ValueError(f"config: expected a DeltaConfig (DeltaConfig.from_dict makes one "
                         f"from a dict), got {type(cfg).__name__}")
    from diffmem.reference import validate as V
    params = V.validate_params(params, param_shapes(cfg))
    inputs, targets, mask = V.validate_data(cfg.X, cfg.Y, inputs, targets, mask, batched=True)
    sequences(cfg, inputs.shape[0], inputs.shape[1])
    if cfg.gated:
        g = inputs[..., 2 * cfg.H * cfg.K + cfg.HV * cfg.V:][..., :cfg.HV]
        if (g > 0).any():
            raise ValueError("delta inputs: g (log decay) must be <= 0 everywhere (DELTA.md, "
                             "'Domain'); got a positive value")
    return params, inputs, targets, mask


def run_batch(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
              want_grads=True, product_results=None, style=None):
    """A batch: inputs [B, T, X], targets [B, T, Y] (do), mask [B, T].

    Returns ``logits`` [B, T, Y] (o), ``loss`` [B], and when asked ``trace``, ``grads``
    ({"h0": dh0, "dht": ht}) and ``grad_inputs`` [B, T, X].  ``style`` ("recurrence" or
    "chunked") runs one style alone; by default float64 is the recurrence and the other
    precisions are their baseline (module docstring)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
    params, inputs, targets, mask = validate(cfg, params, inputs, targets, mask)
    mode = dtype if dtype in LOW_PRECISION else None
    work = "float64" if dtype == "float64" else "float32"

    def one(s, w=work, m=mode, trace=want_trace, grads=want_grads):
        return _run(cfg, params, inputs, targets, mask, work=w, style=s, mode=m,
                    want_trace=trace, want_grads=grads)
    if style is not None:
        return one(style)
    if dtype == "float64":
        return one("recurrence")
    if dtype in ("bfloat16", "float16") and product_results is not None:
        return one("recurrence" if product_results == "float32" else "chunked")
    exp64 = one("recurrence", "float64", None)
    return farther(exp64, [one("recurrence"), one("chunked")])
