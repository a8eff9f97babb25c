"""Triton kernels for the memory side of one NTM step (NTM.md steps 5-7), forward and
backward.

One program per sequence (grid = (B,)) handles every head of one kind at once: heads
and rows are the two axes of a [HB, NB] block, memory is an [NB, MB] block, and the
products that meet both (cosine, read) are [HB, NB, MB] blocks reduced with ``tl.sum``.
A sequence's memory (N x M) is small enough to sit in one program's registers, so no
stage needs a second pass over global memory, and a row reduction never crosses
programs: every gradient is a plain store, no atomics.

Block sizes are powers of two (``block``), at least 2; the masks ``h < HEADS``,
``n < N``, ``m < M`` keep padded lanes out of every sum, max and store.  No ``tl.dot``:
the contractions are over M or N of at most a few hundred elements, done as
elementwise products and sums in the tensors' own dtype (float32 or float64; never
TF32).  Constants come from the reference (DELTA in the norm, EPS in the log).

Shapes (contiguous): key [B, HEADS, M], beta/gate/gamma [B, HEADS], weights
[B, HEADS, N], shift [B, HEADS, S], memory [B, N, M], erase/add [B, WH, M],
reads [B, HEADS, M], offsets [S] int32 (the allowed shifts).
"""

import triton
import triton.language as tl

from diffmem.models.ntm.reference.addressing import DELTA as _DELTA_VALUE, EPS as _EPS_VALUE

DELTA = tl.constexpr(_DELTA_VALUE)
EPS = tl.constexpr(_EPS_VALUE)


def block(size):
    """Power-of-two block covering ``size`` lanes (at least 2: a one-lane block is the
    edge case of reductions, and the masks are then always exercised)."""
    return max(2, triton.next_power_of_2(int(size)))


# ---------------------------------------------------------------- shared pieces

@triton.jit
def masked_softmax(z, valid):
    """Softmax over axis 1 of a [HB, NB] block; rows past N (``valid`` false, [1, NB])
    are excluded and get weight 0."""
    z = tl.where(valid, z, float("-inf"))
    e = tl.exp(z - tl.max(z, axis=1)[:, None])
    e = tl.where(valid, e, 0.0)
    return e / tl.sum(e, axis=1)[:, None]


@triton.jit
def softmax_backward(w, g):
    """d z from d w for w = softmax(z) along axis 1: w * (g - sum(g * w))."""
    return w * (g - tl.sum(g * w, axis=1)[:, None])


@triton.jit
def circular(i, N):
    """i mod N in 0..N-1 for any integer i (Triton's % keeps the dividend's sign)."""
    return (i % N + N) % N


# ---------------------------------------------------------------- content addressing
# w_content = softmax(beta * K), K[h, n] = key_h . mem_n / (|key_h| |mem_n|),
# |v| = sqrt(v . v + DELTA).

@triton.jit
def content_fwd(key_ptr, beta_ptr, mem_ptr, out_ptr, HEADS, N, M,
                HB: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    b = tl.program_id(0)
    h, n, m = tl.arange(0, HB), tl.arange(0, NB), tl.arange(0, MB)
    hm = (h[:, None] < HEADS) & (m[None, :] < M)
    nm = (n[:, None] < N) & (m[None, :] < M)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    key = tl.load(key_ptr + b * HEADS * M + h[:, None] * M + m[None, :], mask=hm, other=0.0)
    mem = tl.load(mem_ptr + b * N * M + n[:, None] * M + m[None, :], mask=nm, other=0.0)
    beta = tl.load(beta_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)
    dot = tl.sum(key[:, None, :] * mem[None, :, :], axis=2)
    norm_key = tl.sqrt(tl.sum(key * key, axis=1) + DELTA)
    norm_mem = tl.sqrt(tl.sum(mem * mem, axis=1) + DELTA)
    similarity = dot / (norm_key[:, None] * norm_mem[None, :])
    w_content = masked_softmax(beta[:, None] * similarity, n[None, :] < N)
    tl.store(out_ptr + b * HEADS * N + h[:, None] * N + n[None, :], w_content, mask=hn)


@triton.jit
def content_bwd(key_ptr, beta_ptr, mem_ptr, w_ptr, g_ptr, dkey_ptr, dbeta_ptr, dmem_ptr,
                HEADS, N, M, HB: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    """K = dot / D, D = |k| |m|:  dz = softmax'(g),  d beta = SUM_n dz K,  dK = beta dz,
    d dot = dK / D,  dD = -d dot K,  d|k| = SUM_n dD |m|,  d|m| = SUM_h dD |k|,
    d|v|/dv = v / |v|."""
    b = tl.program_id(0)
    h, n, m = tl.arange(0, HB), tl.arange(0, NB), tl.arange(0, MB)
    hm = (h[:, None] < HEADS) & (m[None, :] < M)
    nm = (n[:, None] < N) & (m[None, :] < M)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    key = tl.load(key_ptr + b * HEADS * M + h[:, None] * M + m[None, :], mask=hm, other=0.0)
    mem = tl.load(mem_ptr + b * N * M + n[:, None] * M + m[None, :], mask=nm, other=0.0)
    beta = tl.load(beta_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)
    hn_offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w = tl.load(w_ptr + hn_offs, mask=hn, other=0.0)
    g = tl.load(g_ptr + hn_offs, mask=hn, other=0.0)
    dot = tl.sum(key[:, None, :] * mem[None, :, :], axis=2)
    norm_key = tl.sqrt(tl.sum(key * key, axis=1) + DELTA)
    norm_mem = tl.sqrt(tl.sum(mem * mem, axis=1) + DELTA)
    den = norm_key[:, None] * norm_mem[None, :]
    similarity = dot / den
    dz = softmax_backward(w, g)
    d_beta = tl.sum(dz * similarity, axis=1)
    d_dot = dz * beta[:, None] / den
    d_den = -d_dot * similarity
    d_norm_key = tl.sum(d_den * norm_mem[None, :], axis=1)
    d_norm_mem = tl.sum(d_den * norm_key[:, None], axis=0)
    d_key = tl.sum(d_dot[:, :, None] * mem[None, :, :], axis=1) \
        + (d_norm_key / norm_key)[:, None] * key
    d_mem = tl.sum(d_dot[:, :, None] * key[:, None, :], axis=0) \
        + (d_norm_mem / norm_mem)[:, None] * mem
    tl.store(dkey_ptr + b * HEADS * M + h[:, None] * M + m[None, :], d_key, mask=hm)
    tl.store(dbeta_ptr + b * HEADS + h, d_beta, mask=h < HEADS)
    tl.store(dmem_ptr + b * N * M + n[:, None] * M + m[None, :], d_mem, mask=nm)


# ---------------------------------------------------------------- interpolation gate
# w_gated = g w_content + (1 - g) w_prev

@triton.jit
def gate_fwd(wc_ptr, gate_ptr, wp_ptr, out_ptr, HEADS, N, HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_content = tl.load(wc_ptr + offs, mask=hn, other=0.0)
    w_prev = tl.load(wp_ptr + offs, mask=hn, other=0.0)
    g = tl.load(gate_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)[:, None]
    tl.store(out_ptr + offs, g * w_content + (1.0 - g) * w_prev, mask=hn)


@triton.jit
def gate_bwd(wc_ptr, gate_ptr, wp_ptr, g_ptr, dwc_ptr, dgate_ptr, dwp_ptr, HEADS, N,
             HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_content = tl.load(wc_ptr + offs, mask=hn, other=0.0)
    w_prev = tl.load(wp_ptr + offs, mask=hn, other=0.0)
    grad = tl.load(g_ptr + offs, mask=hn, other=0.0)
    g = tl.load(gate_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)[:, None]
    tl.store(dwc_ptr + offs, g * grad, mask=hn)
    tl.store(dwp_ptr + offs, (1.0 - g) * grad, mask=hn)
    tl.store(dgate_ptr + b * HEADS + h, tl.sum(grad * (w_content - w_prev), axis=1),
             mask=h < HEADS)


# ---------------------------------------------------------------- circular shift
# w_shifted[i] = SUM_j s_j w_gated[(i - shifts[j]) mod N]

@triton.jit
def shift_fwd(wg_ptr, shift_ptr, offsets_ptr, out_ptr, HEADS, N,
              S: tl.constexpr, HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    rows = b * HEADS * N + h[:, None] * N
    acc = tl.zeros([HB, NB], dtype=out_ptr.dtype.element_ty)
    for j in tl.static_range(S):
        s = tl.load(shift_ptr + (b * HEADS + h) * S + j, mask=h < HEADS, other=0.0)
        source = circular(n - tl.load(offsets_ptr + j), N)
        acc += s[:, None] * tl.load(wg_ptr + rows + source[None, :], mask=hn, other=0.0)
    tl.store(out_ptr + rows + n[None, :], acc, mask=hn)


@triton.jit
def shift_bwd(wg_ptr, shift_ptr, offsets_ptr, g_ptr, dwg_ptr, dshift_ptr, HEADS, N,
              S: tl.constexpr, HB: tl.constexpr, NB: tl.constexpr):
    """d w_gated[k] = SUM_j s_j g[(k + shifts[j]) mod N] (the transposed rotation),
    d s_j = SUM_i g[i] w_gated[(i - shifts[j]) mod N]."""
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    rows = b * HEADS * N + h[:, None] * N
    grad = tl.load(g_ptr + rows + n[None, :], mask=hn, other=0.0)
    acc = tl.zeros([HB, NB], dtype=dwg_ptr.dtype.element_ty)
    for j in tl.static_range(S):
        offset = tl.load(offsets_ptr + j)
        s = tl.load(shift_ptr + (b * HEADS + h) * S + j, mask=h < HEADS, other=0.0)
        forward_source = circular(n - offset, N)
        w_source = tl.load(wg_ptr + rows + forward_source[None, :], mask=hn, other=0.0)
        tl.store(dshift_ptr + (b * HEADS + h) * S + j, tl.sum(grad * w_source, axis=1),
                 mask=h < HEADS)
        back_source = circular(n + offset, N)
        acc += s[:, None] * tl.load(g_ptr + rows + back_source[None, :], mask=hn, other=0.0)
    tl.store(dwg_ptr + rows + n[None, :], acc, mask=hn)


# ---------------------------------------------------------------- sharpening
# weight = softmax(gamma log(w_shifted + EPS))

@triton.jit
def sharpen_fwd(ws_ptr, gamma_ptr, out_ptr, HEADS, N, HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_shifted = tl.load(ws_ptr + offs, mask=hn, other=0.0)
    gamma = tl.load(gamma_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)
    weight = masked_softmax(gamma[:, None] * tl.log(w_shifted + EPS), n[None, :] < N)
    tl.store(out_ptr + offs, weight, mask=hn)


@triton.jit
def sharpen_bwd(ws_ptr, gamma_ptr, w_ptr, g_ptr, dws_ptr, dgamma_ptr, HEADS, N,
                HB: tl.constexpr, NB: tl.constexpr):
    """z = gamma L, L = log(w_shifted + EPS):  dz = softmax'(g),  d gamma = SUM_n dz L,
    d w_shifted = dz gamma / (w_shifted + EPS)."""
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_shifted = tl.load(ws_ptr + offs, mask=hn, other=0.0)
    weight = tl.load(w_ptr + offs, mask=hn, other=0.0)
    grad = tl.load(g_ptr + offs, mask=hn, other=0.0)
    gamma = tl.load(gamma_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)
    dz = softmax_backward(weight, grad)
    tl.store(dgamma_ptr + b * HEADS + h, tl.sum(dz * tl.log(w_shifted + EPS), axis=1),
             mask=h < HEADS)
    tl.store(dws_ptr + offs, dz * gamma[:, None] / (w_shifted + EPS), mask=hn)


# ---------------------------------------------------------------- erase / add write
# Mem_t = Mem_{t-1} * PROD_h (1 - w_h e_h^T) + SUM_h w_h a_h^T

@triton.jit
def write_fwd(mem_ptr, w_ptr, erase_ptr, add_ptr, out_ptr, N, M,
              WH: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    b = tl.program_id(0)
    n, m = tl.arange(0, NB), tl.arange(0, MB)
    nm = (n[:, None] < N) & (m[None, :] < M)
    offs = b * N * M + n[:, None] * M + m[None, :]
    memory = tl.load(mem_ptr + offs, mask=nm, other=0.0)
    keep = tl.full([NB, MB], 1.0, dtype=memory.dtype)
    added = tl.zeros([NB, MB], dtype=memory.dtype)
    for k in tl.static_range(WH):
        w = tl.load(w_ptr + (b * WH + k) * N + n, mask=n < N, other=0.0)
        erase = tl.load(erase_ptr + (b * WH + k) * M + m, mask=m < M, other=0.0)
        add = tl.load(add_ptr + (b * WH + k) * M + m, mask=m < M, other=0.0)
        keep = keep * (1.0 - w[:, None] * erase[None, :])
        added += w[:, None] * add[None, :]
    tl.store(out_ptr + offs, memory * keep + added, mask=nm)


@triton.jit
def write_bwd(mem_ptr, w_ptr, erase_ptr, add_ptr, g_ptr, dmem_ptr, dw_ptr, derase_ptr,
              dadd_ptr, N, M, WH: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    """dMem = g * keep;  da_h = w_h g;  dw_h = a_h g^T - e_h G_h^T;  de_h = -w_h G_h,
    G_h = (g * Mem) * PROD_{k != h} (1 - w_k e_k^T): the other heads' factors are
    multiplied out afresh for each h (no division: a factor may be exactly 0)."""
    b = tl.program_id(0)
    n, m = tl.arange(0, NB), tl.arange(0, MB)
    nm = (n[:, None] < N) & (m[None, :] < M)
    offs = b * N * M + n[:, None] * M + m[None, :]
    memory = tl.load(mem_ptr + offs, mask=nm, other=0.0)
    grad = tl.load(g_ptr + offs, mask=nm, other=0.0)
    keep = tl.full([NB, MB], 1.0, dtype=memory.dtype)
    for k in tl.static_range(WH):
        w = tl.load(w_ptr + (b * WH + k) * N + n, mask=n < N, other=0.0)
        erase = tl.load(erase_ptr + (b * WH + k) * M + m, mask=m < M, other=0.0)
        keep = keep * (1.0 - w[:, None] * erase[None, :])
    tl.store(dmem_ptr + offs, grad * keep, mask=nm)
    g_keep = grad * memory
    for h in tl.static_range(WH):
        others = tl.full([NB, MB], 1.0, dtype=memory.dtype)
        for k in tl.static_range(WH):
            if k != h:
                w_k = tl.load(w_ptr + (b * WH + k) * N + n, mask=n < N, other=0.0)
                e_k = tl.load(erase_ptr + (b * WH + k) * M + m, mask=m < M, other=0.0)
                others = others * (1.0 - w_k[:, None] * e_k[None, :])
        g_h = g_keep * others
        w = tl.load(w_ptr + (b * WH + h) * N + n, mask=n < N, other=0.0)
        erase = tl.load(erase_ptr + (b * WH + h) * M + m, mask=m < M, other=0.0)
        add = tl.load(add_ptr + (b * WH + h) * M + m, mask=m < M, other=0.0)
        d_w = tl.sum(add[None, :] * grad, axis=1) - tl.sum(erase[None, :] * g_h, axis=1)
        tl.store(dw_ptr + (b * WH + h) * N + n, d_w, mask=n < N)
        tl.store(derase_ptr + (b * WH + h) * M + m, -tl.sum(w[:, None] * g_h, axis=0),
                 mask=m < M)
        tl.store(dadd_ptr + (b * WH + h) * M + m, tl.sum(w[:, None] * grad, axis=0),
                 mask=m < M)


# ---------------------------------------------------------------- read
# r_h = SUM_n w_h[n] Mem[n, :]

@triton.jit
def read_fwd(mem_ptr, w_ptr, out_ptr, HEADS, N, M,
             HB: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    b = tl.program_id(0)
    h, n, m = tl.arange(0, HB), tl.arange(0, NB), tl.arange(0, MB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    nm = (n[:, None] < N) & (m[None, :] < M)
    hm = (h[:, None] < HEADS) & (m[None, :] < M)
    w = tl.load(w_ptr + b * HEADS * N + h[:, None] * N + n[None, :], mask=hn, other=0.0)
    memory = tl.load(mem_ptr + b * N * M + n[:, None] * M + m[None, :], mask=nm, other=0.0)
    reads = tl.sum(w[:, :, None] * memory[None, :, :], axis=1)
    tl.store(out_ptr + b * HEADS * M + h[:, None] * M + m[None, :], reads, mask=hm)


@triton.jit
def read_bwd(mem_ptr, w_ptr, g_ptr, dmem_ptr, dw_ptr, HEADS, N, M,
             HB: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    """dMem = SUM_h w_h g_h^T,  dw_h = Mem g_h."""
    b = tl.program_id(0)
    h, n, m = tl.arange(0, HB), tl.arange(0, NB), tl.arange(0, MB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    nm = (n[:, None] < N) & (m[None, :] < M)
    hm = (h[:, None] < HEADS) & (m[None, :] < M)
    w = tl.load(w_ptr + b * HEADS * N + h[:, None] * N + n[None, :], mask=hn, other=0.0)
    memory = tl.load(mem_ptr + b * N * M + n[:, None] * M + m[None, :], mask=nm, other=0.0)
    grad = tl.load(g_ptr + b * HEADS * M + h[:, None] * M + m[None, :], mask=hm, other=0.0)
    d_mem = tl.sum(w[:, :, None] * grad[:, None, :], axis=0)
    d_w = tl.sum(grad[:, None, :] * memory[None, :, :], axis=2)
    tl.store(dmem_ptr + b * N * M + n[:, None] * M + m[None, :], d_mem, mask=nm)
    tl.store(dw_ptr + b * HEADS * N + h[:, None] * N + n[None, :], d_w, mask=hn)
