"""The frozen reference of DNC.md (spec ``dnc/1``): numpy (``autograd.numpy``) float64,
gradients by autograd.

Deliberately dumb: one plain function per operation of DNC.md's step, in its words and
its order, every product a multiplication (never a division), the sort a constant.  The
batch's sequences are independent and every array has them on its first axis, so each
operation is one array operation for the whole batch; the sort is per sequence.

What the spec fixes and this file implements literally:

- psi = PROD_i (1 - f^i wr^i_{t-1}), multiplied in head order; u = (u + ww - u ww) psi
  evaluated as written;
- the free list phi = ``numpy.argsort(u, kind="stable")`` of this run's own u (float64
  or float32), taken outside autograd (a constant permutation), and the exclusive
  product P_j accumulated by multiplication from j = 0 upward: its derivative with
  respect to a factor is the product of the other factors, so a factor of exactly 0
  (u = 0, every step 0) gives a finite gradient, never 0/0;
- the link matrix's diagonal is the constant 0 (``np.where``: nothing flows back through
  the formula's diagonal terms);
- oneplus(z) = 1 + softplus(z) with softplus's derivative sigmoid(z), 0.5 at z = 0
  (``diffmem.reference.functions.softplus``'s hand-written VJP);
- the cosine is NTM.md's, norm(v) = sqrt(sum(v^2) + DELTA), DELTA = 1e-16, with the dot
  products computed row by row as ``(M * k).sum(-1)``: the same operations for every
  row, so rows with equal inputs get bitwise-equal values (DNC.md step 4,
  "row-uniform arithmetic").

The controller, the output layer and the losses are NTM.md's, batched over B exactly as
the stack family's reference computes them (``diffmem.models.stack.reference``).

Precisions: float64, float32 and the emulated low-precision modes tf32, bfloat16 and
float16 (DNC.md "Numerics", docs/precision.md): float32 with the operands of the
spec's products rounded to the mode's format (and, for bf16 / fp16 with
``product_results="format"``, their results): the three linear layers (the stack
family's ``linear``), the cosine's numerators k . M_i, the reads wr M, the write's
outer product ww v^T and the directional products L wr, L^T wr, each with its backward
products rounded the same way (``rounded_product``).  Everything else (the cosine's
norms, every elementwise operation, the erase term, usage, the sort, the allocation, the
link and precedence updates) is float32.  Outside a mode those products are computed
exactly as before (the row-uniform sums and ``@`` above), so the float64 and float32
runs are bitwise what they were.
"""

from __future__ import annotations

import autograd.numpy as np
import numpy as onp   # the sort, the trace: plain values, never differentiated
from autograd import value_and_grad
from autograd.tracer import getval

from diffmem.models.ntm.reference.addressing import norm
from diffmem.models.stack.reference import controller, interface, output, sequence_loss
from diffmem.reference.functions import sigmoid, softmax, softplus
from diffmem.reference.precision import (LOW_PRECISION, compute_dtype, emulated_mode,
                                         emulating, matmul)
from diffmem.reference.vjp import with_vjp

from .config import DNCConfig
from .layout import split_interface, trace_entries, validate_data, validate_params

DTYPES = ("float64", "float32") + LOW_PRECISION


# ---------------------------------------------------------------- a mode's products

def _rounded_product_vjp(g, ans, a, b):
    # y = a @ b over the leading (batch) axes: ga = g b^T, gb = a^T g, each a matrix
    # product rounded as the forward's (``matmul``), as a kernel's backward GEMMs are.
    return (matmul(g, onp.swapaxes(b, -1, -2)), matmul(onp.swapaxes(a, -1, -2), g))


@with_vjp(_rounded_product_vjp)
def rounded_product(a, b):
    """a @ b (same leading axes) as an emulated mode forms it: operands rounded to the
    format, products summed in float32, the result rounded for bf16 / fp16 "format"
    (``diffmem.reference.precision.matmul``).  Used only inside a mode: the float64 and
    float32 runs keep their own sums."""
    return matmul(a, b)


# ---------------------------------------------------------------- 2. activations

def oneplus(z):
    """1 + softplus(z) >= 1; derivative sigmoid(z) (0.5 at z = 0)."""
    return 1.0 + softplus(z)


ACTIVATION = {"read.key": None, "read.strength": oneplus, "write.key": None,
              "write.strength": oneplus, "write.erase": sigmoid, "write.vector": None,
              "free_gate": sigmoid, "allocation_gate": sigmoid, "write_gate": sigmoid,
              "read.mode": softmax}   # softmax over each head's 3 modes (the last axis)


def activations(raw: dict) -> dict:
    """DNC.md's interface table: keys and the write vector raw, strengths oneplus, erase
    and gates sigmoid, read modes softmax over (backward, content, forward)."""
    return {name: z if ACTIVATION[name] is None else ACTIVATION[name](z)
            for name, z in raw.items()}


# ---------------------------------------------------------------- 3. usage

def retention(free_gate, w_read_prev):
    """psi = PROD_{i=0}^{R-1} (1 - f^i wr^i_{t-1}), multiplied in head order.
    free_gate [B, R], w_read_prev [B, R, N] -> [B, N]."""
    psi = 1.0 - free_gate[:, 0, None] * w_read_prev[:, 0]
    for i in range(1, w_read_prev.shape[1]):
        psi = psi * (1.0 - free_gate[:, i, None] * w_read_prev[:, i])
    return psi


def usage(u_prev, ww_prev, psi):
    """u_t = (u_{t-1} + ww_{t-1} - u_{t-1} ww_{t-1}) psi_t, as written (no floor, no
    clamp); all [B, N]."""
    return (u_prev + ww_prev - u_prev * ww_prev) * psi


# ---------------------------------------------------------------- 4. allocation

def free_list(u):
    """phi [B, N]: per sequence, the rows sorted by usage ascending, stably (equal values
    keep increasing index order).  A constant: computed from values, never
    differentiated."""
    return onp.argsort(getval(u), axis=-1, kind="stable")


def allocation(u, order):
    """a[phi_j] = (1 - u[phi_j]) P_j, P_0 = 1, P_j = P_{j-1} u[phi_{j-1}]; [B, N].

    The exclusive product is a running product of the sorted usages, one multiplication
    per j: autograd differentiates each as a product (the other factor), so no
    gradient is ever a division by a usage."""
    B, N = u.shape
    batch = onp.arange(B)
    sorted_a, P = [], 1.0
    for j in range(N):
        u_j = u[batch, order[:, j]]          # u[phi_j] of every sequence, [B]
        sorted_a.append((1.0 - u_j) * P)
        P = P * u_j
    rank = onp.argsort(order, axis=-1)       # phi^-1: where each row sits in the free list
    return np.stack(sorted_a, axis=1)[batch[:, None], rank]


# ---------------------------------------------------------------- 5, 11. content

def cosine(memory, key):
    """K[b, h, i] = (k_h . M_i) / (norm(k_h) norm(M_i)), NTM.md's cosine with DELTA in the
    norms; the dot products row by row, ``(M * k).sum(-1)`` (row-uniform).
    memory [B, N, W], key [B, heads, W] -> [B, heads, N]."""
    if emulated_mode() is None:
        dots = np.sum(memory[:, None, :, :] * key[:, :, None, :], axis=-1)
    else:   # a mode's numerators are a rounded matrix product (DNC.md "Numerics")
        dots = rounded_product(key, np.swapaxes(memory, 1, 2))
    return dots / (norm(key)[:, :, None] * norm(memory)[:, None, :])


def content_weights(memory, key, strength):
    """softmax over rows of beta * K(M, k); strength [B, heads] -> [B, heads, N]."""
    return softmax(strength[..., None] * cosine(memory, key))


# ---------------------------------------------------------------- 6-10. the write

def write_weights(allocation_gate, write_gate, a, cw):
    """ww = g^w (g^a a + (1 - g^a) cw): gates [B, 1], a [B, N], cw [B, 1, N] -> [B, 1, N]."""
    ga, gw = allocation_gate[..., None], write_gate[..., None]
    return gw * (ga * a[:, None, :] + (1.0 - ga) * cw)


def write_memory(memory, ww, erase, vector):
    """M_t = M_{t-1} * (1 - ww e^T) + ww v^T: ww [B, 1, N], erase and vector [B, 1, W]."""
    w = ww[:, 0, :, None]                                  # [B, N, 1]
    if emulated_mode() is None:
        return memory * (1.0 - w * erase) + w * vector
    # In a mode the write's outer product ww v^T is a rounded matrix product (as NTM.md's
    # SUM_h w_h a_h^T); the erase term stays elementwise float32.
    return memory * (1.0 - w * erase) + rounded_product(w, vector)


def off_diagonal(N):
    return ~onp.eye(N, dtype=bool)


def link(link_prev, ww, p_prev):
    """L[i, j] = (1 - ww[i] - ww[j]) L_{t-1}[i, j] + ww[i] p_{t-1}[j] for i != j, and the
    constant 0 on the diagonal (a selection: no gradient reaches the formula there).
    ww [B, 1, N], p_prev [B, N], link_prev [B, N, N]."""
    w = ww[:, 0]
    w_i, w_j = w[:, :, None], w[:, None, :]
    formula = (1.0 - w_i - w_j) * link_prev + w_i * p_prev[:, None, :]
    zero = onp.zeros(formula.shape, dtype=getval(formula).dtype)
    return np.where(off_diagonal(w.shape[-1]), formula, zero)


def precedence(p_prev, ww):
    """p_t = (1 - SUM_i ww[i]) p_{t-1} + ww; [B, N]."""
    w = ww[:, 0]
    return (1.0 - np.sum(w, axis=-1, keepdims=True)) * p_prev + w


# ---------------------------------------------------------------- 10-13. the reads

def directions(link_t, w_read_prev):
    """fw^i = L_t wr^i_{t-1}, bw^i = L_t^T wr^i_{t-1}: [B, R, N] each.
    (fw[i][n] = SUM_j L[n, j] wr[j], bw[i][n] = SUM_j L[j, n] wr[j].)"""
    if emulated_mode() is None:
        return w_read_prev @ np.swapaxes(link_t, 1, 2), w_read_prev @ link_t
    return (rounded_product(w_read_prev, np.swapaxes(link_t, 1, 2)),
            rounded_product(w_read_prev, link_t))


def read_weights(mode, backward, content, forward):
    """wr^i = pi^i[0] bw^i + pi^i[1] cr^i + pi^i[2] fw^i; mode [B, R, 3]."""
    return mode[..., 0:1] * backward + mode[..., 1:2] * content + mode[..., 2:3] * forward


def read_memory(memory, w_read):
    """r^i = M_t^T wr^i: w_read [B, R, N], memory [B, N, W] -> [B, R, W]."""
    return w_read @ memory if emulated_mode() is None else rounded_product(w_read, memory)


# ---------------------------------------------------------------- the step

def initial_state(params, cfg: DNCConfig, batch: int):
    """M_{-1} = init.memory, r_{-1} = init.read (learned); usage, write and read
    weightings, precedence and links 0; LSTM h = cell = 0."""
    dtype = getval(params["init.memory"]).dtype
    N, R = cfg.N, cfg.R
    ones = onp.ones((batch, 1, 1), dtype=dtype)
    zeros = onp.zeros((batch, cfg.H), dtype=dtype)
    return {"memory": params["init.memory"][None] * ones,
            "reads": params["init.read"][None] * ones,
            "usage": onp.zeros((batch, N), dtype=dtype),
            "w_write": onp.zeros((batch, N), dtype=dtype),
            "w_read": onp.zeros((batch, R, N), dtype=dtype),
            "precedence": onp.zeros((batch, N), dtype=dtype),
            "link": onp.zeros((batch, N, N), dtype=dtype),
            "h": zeros, "cell": zeros}


def step(params, cfg: DNCConfig, state: dict, x):
    """One time step for the batch (x [B, X]); returns (next state, record of trace name
    -> [B, ...]).  Stage numbers are DNC.md's."""
    record = {}
    # 1. controller on [x_t ; r^1_{t-1} ; ... ; r^R_{t-1}]
    c, cell = controller(params, cfg, state["h"], state["cell"], state["reads"], x)
    record["controller"] = c
    if cell is not None:
        record["controller_cell"] = cell
    # 2-3. interface and its activations
    xi = interface(params, c)
    record["interface"] = xi
    act = activations(split_interface(xi, cfg))
    record.update(act)
    # 4. retention and usage
    psi = record["retention"] = retention(act["free_gate"], state["w_read"])
    u = record["usage"] = usage(state["usage"], state["w_write"], psi)
    # 5. allocation
    order = free_list(u)
    record["allocation.order"] = order.astype(getval(u).dtype)
    a = record["allocation"] = allocation(u, order)
    # 6-7. write weighting
    cw = record["write.content"] = content_weights(state["memory"], act["write.key"],
                                                   act["write.strength"])
    ww = record["write.weight"] = write_weights(act["allocation_gate"], act["write_gate"],
                                                a, cw)
    # 8-10. memory, links from the previous precedence, then the precedence
    memory = record["memory"] = write_memory(state["memory"], ww, act["write.erase"],
                                             act["write.vector"])
    L = record["link"] = link(state["link"], ww, state["precedence"])
    p = record["precedence"] = precedence(state["precedence"], ww)
    # 11-14. directions from the new links, content after the write, read weights, reads
    fw, bw = directions(L, state["w_read"])
    record["read.forward"], record["read.backward"] = fw, bw
    cr = record["read.content"] = content_weights(memory, act["read.key"],
                                                  act["read.strength"])
    wr = record["read.weight"] = read_weights(act["read.mode"], bw, cr, fw)
    reads = record["reads"] = read_memory(memory, wr)
    # 15. output
    record["logits"] = output(params, c, reads)
    next_state = {"memory": memory, "reads": reads, "usage": u, "w_write": ww[:, 0],
                  "w_read": wr, "precedence": p, "link": L, "h": c,
                  "cell": cell if cell is not None else state["cell"]}
    return next_state, record


def forward(params, cfg: DNCConfig, inputs, want_trace=False):
    """inputs [B, T, X] -> (logits [B, T, Y], trace name -> [B, T, ...] or None)."""
    # Look every parameter up once: under autograd each lookup in the boxed dict is a node.
    params = {name: params[name] for name in getval(params)}
    state = initial_state(params, cfg, inputs.shape[0])
    names = [e.name for e in trace_entries(cfg)]
    logits, records = [], []
    for t in range(inputs.shape[1]):
        state, record = step(params, cfg, state, inputs[:, t])
        logits.append(record["logits"])
        if want_trace:
            records.append({k: getval(record[k]) for k in names})   # stage order
    trace = None
    if want_trace:
        trace = {k: onp.stack([onp.asarray(r[k]) for r in records], axis=1) for k in names}
    return np.stack(logits, axis=1), trace


# ---------------------------------------------------------------- running

def run_batch(cfg, params, inputs, targets, mask, *, dtype="float64", want_trace=True,
              want_grads=True, product_results="format"):
    """A batch: inputs [B, T, X], targets [B, T, Y], mask [B, T].

    Returns ``logits`` [B, T, Y], ``loss`` [B], and when asked ``trace`` (name ->
    [B, T, ...]), ``grads`` (of the summed loss: summed over the batch) and
    ``grad_inputs`` [B, T, X].  ``dtype``: float64, float32 or a low-precision mode
    (float32 with the module docstring's products rounded; ``product_results`` "format"
    or "float32" for bf16 / fp16, docs/precision.md); every run sorts its own usages."""
    if not isinstance(cfg, DNCConfig):
        raise ValueError(f"config: expected a DNCConfig (DNCConfig.from_dict makes one from "
                         f"a dict), got {type(cfg).__name__}")
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

    # The reference sigmoid's gradient 1/cosh^2 overflows harmlessly to 0 for |z| > ~1400
    # (a saturated switch's pre-activation is beyond 1000).
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
