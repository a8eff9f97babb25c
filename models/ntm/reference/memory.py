"""Writing to and reading from memory (NTM.md steps 5 and 7; paper sections 3.1, 3.2)."""

import numpy as onp   # in the VJPs: they are never differentiated themselves

from diffmem.reference.precision import matmul
from diffmem.reference.vjp import with_vjp


def _write_memory_vjp(g, new_memory, memory, weight, erase, add):
    # Mem_t = Mem * keep + w^T a, keep = PROD_h F_h, F_h = 1 - w_h e_h^T.
    # g_Mem = g keep;  g_add = w g;  g_w (add term) = a g^T;
    # g_F_h = g Mem PROD_{h' != h} F_h', from prefix and suffix products (no division,
    # for the same reason as below);  g_w_h -= g_F_h e_h;  g_e_h = -w_h^T g_F_h.
    factors = [1.0 - weight[h][:, None] * erase[h][None, :] for h in range(weight.shape[0])]
    prefix, suffix = [1.0], [1.0]
    for F in factors:
        prefix.append(prefix[-1] * F)
    for F in reversed(factors):
        suffix.insert(0, F * suffix[0])
    g_keep = g * memory
    g_factor = [g_keep * prefix[h] * suffix[h + 1] for h in range(len(factors))]
    # (``matmul``: the products of the forward's w^T a, as there; the erase terms are
    # reductions of element-wise products, not matrix products)
    g_weight = matmul(add, g.T) - onp.stack([gF @ erase[h] for h, gF in enumerate(g_factor)])
    g_erase = -onp.stack([weight[h] @ gF for h, gF in enumerate(g_factor)])
    return g * prefix[-1], g_weight, g_erase, matmul(weight, g)


@with_vjp(_write_memory_vjp)
def write_memory(memory, weight, erase, add):
    """Mem_t = Mem_{t-1} * PROD_h (1 - w_h e_h^T) + SUM_h w_h a_h^T.

    weight [Wh, N], erase and add [Wh, M].  The product is an explicit loop over
    write heads rather than ``np.prod``: autograd's VJP of prod divides by each
    factor, which is NaN when a one-hot weight meets an erase of exactly 1.
    """
    keep = 1.0
    for h in range(weight.shape[0]):
        keep = keep * (1.0 - weight[h][:, None] * erase[h][None, :])
    return memory * keep + matmul(weight.T, add)


def _read_memory_vjp(g, reads, memory, weight):
    # reads = w Mem:  g_Mem = w^T g,  g_w = g Mem^T  (``matmul``: as in the forward)
    return matmul(weight.T, g), matmul(g, memory.T)


@with_vjp(_read_memory_vjp)
def read_memory(memory, weight):
    """r_h = Mem^T w_h for each read head: weight [R, N] -> reads [R, M].
    (``matmul``: ``@``, except in an emulated low-precision mode, precision.py.)"""
    return matmul(weight, memory)
