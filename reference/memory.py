"""Writing to and reading from memory (NTM.md steps 5 and 7; paper sections 3.1, 3.2)."""

import autograd.numpy as np


def write_memory(memory, weight, erase, add):
    """Mem_t = Mem_{t-1} * PROD_h (1 - w_h e_h^T) + SUM_h w_h a_h^T.

    weight [Wh, N], erase and add [Wh, M].  The product is an explicit loop over
    write heads rather than ``np.prod``: autograd's VJP of prod divides by each
    factor, which is NaN when a one-hot weight meets an erase of exactly 1.
    """
    keep = 1.0
    for h in range(weight.shape[0]):
        keep = keep * (1.0 - weight[h][:, None] * erase[h][None, :])
    return memory * keep + weight.T @ add


def read_memory(memory, weight):
    """r_h = Mem^T w_h for each read head: weight [R, N] -> reads [R, M]."""
    return weight @ memory
