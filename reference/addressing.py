"""Addressing of one kind of head against memory (NTM.md step 6; paper section 3.3).

Every function takes all heads of one kind at once: a leading head axis on keys,
strengths and weights ([heads, ...]).  Memory is [N, M], weights are [heads, N].
"""

import autograd.numpy as np

from .functions import softmax

DELTA = 1e-16   # inside the norm: finite cosine and gradient for a zero row or key
EPS = 1e-16     # inside the log of sharpening: finite where a shifted weight is 0


def norm(v):
    """sqrt(sum(v^2) + DELTA) over the last axis."""
    return np.sqrt(np.sum(v * v, axis=-1) + DELTA)


def cosine_similarity(key, memory):
    """K[h, i] = (k_h . Mem_i) / (norm(k_h) * norm(Mem_i))."""
    return (key @ memory.T) / (norm(key)[:, None] * norm(memory)[None, :])


def content_weights(key, beta, memory):
    """w_content = softmax(beta * K) over the N rows (paper eq. 5)."""
    return softmax(beta[:, None] * cosine_similarity(key, memory))


def gated_weights(w_content, gate, w_prev):
    """w_gated = g * w_content + (1 - g) * w_prev (paper eq. 7)."""
    g = gate[:, None]
    return g * w_content + (1.0 - g) * w_prev


def shift_index(shifts, N):
    """idx[j, i] = (i - shifts[j]) mod N: the row that shift j moves onto row i."""
    return (np.arange(N)[None, :] - np.array(shifts)[:, None]) % N


def shifted_weights(w_gated, shift, shifts):
    """w_shifted[i] = SUM_j s_j * w_gated[(i - shifts[j]) mod N] (paper eq. 8).

    Offset +1 moves the focus from row i to row i+1.  When N is small several
    offsets land on the same row and their contributions add (the gather repeats
    that row; the sum over j adds them).
    """
    gathered = w_gated[:, shift_index(shifts, w_gated.shape[-1])]   # [heads, S, N]
    return np.sum(shift[:, :, None] * gathered, axis=1)


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
