"""Addressing of one kind of head against memory (NTM.md step 6; paper section 3.3).

Every function takes all heads of one kind at once: a leading head axis on keys,
strengths and weights ([heads, ...]).  Memory is [N, M], weights are [heads, N].
Each stage is one autograd node (``vjp.py``): its body is the definition and gives
the values; the VJP beside it gives the gradient.
"""

import autograd.numpy as np
import numpy as onp   # in the VJPs: they are never differentiated themselves

from diffmem.reference.functions import softmax_vjp, softmax
from diffmem.reference.precision import matmul
from diffmem.reference.vjp import with_vjp

DELTA = 1e-16   # inside the norm: finite cosine and gradient for a zero row or key
EPS = 1e-16     # inside the log of sharpening: finite where a shifted weight is 0


def norm(v):
    """sqrt(sum(v^2) + DELTA) over the last axis."""
    return np.sqrt(np.sum(v * v, axis=-1) + DELTA)


def cosine_similarity(key, memory):
    """K[h, i] = (k_h . Mem_i) / (norm(k_h) * norm(Mem_i)).
    (``matmul``: ``@``, except in an emulated low-precision mode, precision.py.)"""
    return matmul(key, memory.T) / (norm(key)[:, None] * norm(memory)[None, :])


def _content_weights_vjp(g, w, key, beta, memory):
    # z = beta K, w = softmax(z):            gz = softmax's VJP
    # K = D / (|k| |Mem_i|), D = k . Mem_i:  gD = gK / (|k| |Mem_i|),
    #                                        g|k| = -sum_i gK K / |k|  (and |Mem_i| alike)
    # |v| = sqrt(v.v + DELTA):               d|v|/dv = v / |v|
    nk, nm = norm(key), norm(memory)
    K = cosine_similarity(key, memory)
    gz, = softmax_vjp(g, w, beta[:, None] * K)
    gK = gz * beta[:, None]
    gD = gK / (nk[:, None] * nm[None, :])
    gnk = -onp.sum(gK * K, axis=1) / nk
    gnm = -onp.sum(gK * K, axis=0) / nm
    # (``matmul``: the products of the dot k . Mem_i's gradient, as in the forward)
    g_key = matmul(gD, memory) + (gnk / nk)[:, None] * key
    g_memory = matmul(gD.T, key) + (gnm / nm)[:, None] * memory
    return g_key, onp.sum(gz * K, axis=-1), g_memory


@with_vjp(_content_weights_vjp)
def content_weights(key, beta, memory):
    """w_content = softmax(beta * K) over the N rows (paper eq. 5)."""
    return softmax(beta[:, None] * cosine_similarity(key, memory))


def _gated_weights_vjp(G, w_gated, w_content, gate, w_prev):
    g = gate[:, None]
    return g * G, onp.sum(G * (w_content - w_prev), axis=-1), (1.0 - g) * G


@with_vjp(_gated_weights_vjp)
def gated_weights(w_content, gate, w_prev):
    """w_gated = g * w_content + (1 - g) * w_prev (paper eq. 7)."""
    g = gate[:, None]
    return g * w_content + (1.0 - g) * w_prev


def shift_index(shifts, N):
    """idx[j, i] = (i - shifts[j]) mod N: the row that shift j moves onto row i."""
    # plain numpy: an index is never differentiated (autograd's np.array is slow)
    return (onp.arange(N)[None, :] - onp.array(shifts)[:, None]) % N


def _shifted_weights_vjp(g, w_shifted, w_gated, shift, shifts):
    # d w_shifted[i] / d s_j = w_gated[(i - shifts[j]) mod N]
    # d w_shifted[i] / d w_gated[k] = SUM_j s_j [i = (k + shifts[j]) mod N]: for each j,
    # i -> (i - shifts[j]) mod N is a permutation of the rows, so its transpose is the
    # gather with the opposite offsets (repeated rows for small N add up the same way).
    N = w_gated.shape[-1]
    gathered = w_gated[:, shift_index(shifts, N)]                     # [heads, S, N]
    g_shift = onp.sum(g[:, None, :] * gathered, axis=-1)
    g_back = g[:, shift_index([-s for s in shifts], N)]              # [heads, S, N]
    return onp.sum(shift[:, :, None] * g_back, axis=1), g_shift, None


@with_vjp(_shifted_weights_vjp)
def shifted_weights(w_gated, shift, shifts):
    """w_shifted[i] = SUM_j s_j * w_gated[(i - shifts[j]) mod N] (paper eq. 8).

    Offset +1 moves the focus from row i to row i+1.  When N is small several
    offsets land on the same row and their contributions add (the gather repeats
    that row; the sum over j adds them).
    """
    gathered = w_gated[:, shift_index(shifts, w_gated.shape[-1])]   # [heads, S, N]
    return np.sum(shift[:, :, None] * gathered, axis=1)


def _sharpened_weights_vjp(g, w, w_shifted, gamma):
    # z = gamma L, L = log(w_shifted + EPS), w = softmax(z):  gz = softmax's VJP;
    # g_gamma = sum_i gz L;  g_w_shifted = gz gamma / (w_shifted + EPS)
    log_w = onp.log(w_shifted + EPS)
    gz, = softmax_vjp(g, w, gamma[:, None] * log_w)
    return gz * gamma[:, None] / (w_shifted + EPS), onp.sum(gz * log_w, axis=-1)


@with_vjp(_sharpened_weights_vjp)
def sharpened_weights(w_shifted, gamma):
    """w = softmax(gamma * log(w_shifted + EPS)) = (w_shifted+EPS)^gamma normalised (eq. 9)."""
    return softmax(gamma[:, None] * np.log(w_shifted + EPS))


def address(head, memory, w_prev, shifts):
    """All four stages for the heads of one kind; returns them by trace name."""
    w_content = content_weights(head["key"], head["beta"], memory)
    w_gated = gated_weights(w_content, head["gate"], w_prev)
    w_shifted = shifted_weights(w_gated, head["shift"], shifts)
    weight = sharpened_weights(w_shifted, head["gamma"])
    return {"w_content": w_content, "w_gated": w_gated, "w_shifted": w_shifted,
            "weight": weight}
