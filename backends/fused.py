"""Hand-written gradients for the [B, N, M]-sized stages, written once for any ``xp``.

Everything memory-sized in a step is the write (NTM.md stage 8), the cosine similarity
against memory (stage 4, once per head kind) and the read (stage 14).  Differentiated
op by op, their backward passes sweep over [B, N, M] arrays about twice as often as
they need to (each elementwise product, its two operand gradients, the accumulations),
and in eager PyTorch each op is also a separate autograd node.  Here each stage is one
node: ``*_fwd`` computes the value as ``BatchedNTM`` writes it (the same operations in
the same order, so the forward values are bit-for-bit those of the plain method) and
returns what the backward needs; ``*_bwd`` is the chain rule written out by hand, with
the memory-sized reductions as batched matrix products.

The frameworks wrap these pairs as the optional ops-table entries ``write_memory``,
``cosine_similarity`` and ``read_memory``, which ``BatchedNTM`` uses when present and
when no subclass has replaced the stage's math: ``torch.autograd.Function`` in
``TorchOps`` (backends/torch/ops.py), ``jax.custom_vjp`` in the opt-in ``FusedJaxOps``
only (backends/jax/ops.py; XLA's own derivative was faster on CPU).  Reverse mode only
(what training and the harness use).

Shapes as in ``BatchedNTM``: memory [..., N, M], weight [..., heads, N], erase, add,
key [..., heads, M].
"""

from diffmem.models.ntm.reference.addressing import DELTA


def outer(a, b):
    """SUM_h a_h b_h^T for a [..., heads, N], b [..., heads, M] -> [..., N, M].

    With one head a broadcast product: the same single multiplication per element as
    the batched matmul ``a.mT @ b``, but a K=1 batched matmul on CPU pays a GEMM call
    per batch element (4x slower at batch 256 in torch)."""
    if a.shape[-2] == 1:
        return a[..., 0, :, None] * b[..., 0, None, :]
    return a.mT @ b


# ---------------------------------------------------------------- memory write (stage 8)

def write_memory_fwd(xp, memory, weight, erase, add):
    """Mem * PROD_h (1 - w_h e_h^T) + SUM_h w_h a_h^T, and the residuals."""
    factors = 1.0 - weight[..., :, :, None] * erase[..., :, None, :]   # [..., Wh, N, M]
    keep = xp.prod(factors, axis=-3)
    out = memory * keep + outer(weight, add)
    return out, (memory, weight, erase, add, factors, keep)


def _all_but_one(xp, factors):
    """[..., Wh, N, M] -> for each h the product of the other heads' factors, by prefix
    and suffix products (no division: a factor may be exactly 0)."""
    count = factors.shape[-3]
    heads = [factors[..., h, :, :] for h in range(count)]
    prefix, suffix = [None] * count, [None] * count
    for h in range(1, count):
        prefix[h] = heads[h - 1] if prefix[h - 1] is None else prefix[h - 1] * heads[h - 1]
    for h in range(count - 2, -1, -1):
        suffix[h] = heads[h + 1] if suffix[h + 1] is None else heads[h + 1] * suffix[h + 1]
    return [p if s is None else s if p is None else p * s for p, s in zip(prefix, suffix)]


def write_memory_bwd(xp, residuals, g):
    """Gradients of (memory, weight, erase, add) from dL/dMem_t = g [..., N, M].

    out = Mem * keep + w^T a, keep = PROD_h (1 - w_h e_h^T):
      dMem = g * keep;  da_h = w_h g;  dw_h = a_h g^T - e_h G_h^T;  de_h = -w_h G_h,
    with G_h = (g * Mem) * PROD_{k != h} (1 - w_k e_k^T) (= g * Mem for one head).
    """
    memory, weight, erase, add, factors, keep = residuals
    g_keep = g * memory
    d_memory = g * keep
    d_add = weight @ g
    if factors.shape[-3] == 1:
        d_weight = add @ g.mT - erase @ g_keep.mT
        d_erase = -(weight @ g_keep)
        return d_memory, d_weight, d_erase, d_add
    others = _all_but_one(xp, factors)
    d_weight = add @ g.mT - xp.concat(
        [erase[..., h, None, :] @ (g_keep * o).mT for h, o in enumerate(others)], axis=-2)
    d_erase = -xp.concat(
        [weight[..., h, None, :] @ (g_keep * o) for h, o in enumerate(others)], axis=-2)
    return d_memory, d_weight, d_erase, d_add


# ---------------------------------------------------------------- cosine similarity (stage 4)

def _norm(xp, v):
    return xp.sqrt(xp.sum(v * v, axis=-1) + DELTA)


def cosine_similarity_fwd(xp, key, memory):
    """K[h] . Mem[n] / (|K[h]| |Mem[n]|) with |v| = sqrt(v.v + DELTA), and the residuals."""
    norm_key, norm_memory = _norm(xp, key), _norm(xp, memory)
    denominator = norm_key[..., :, None] * norm_memory[..., None, :]
    similarity = (key @ memory.mT) / denominator
    return similarity, (key, memory, norm_key, norm_memory, denominator, similarity)


def cosine_similarity_bwd(xp, residuals, g):
    """Gradients of (key, memory) from dL/dK = g [..., heads, N].

    K = dot / D, D = |k| |m|:  d_dot = g / D,  dD = -g K / D = -d_dot K,
    d|k| = SUM_n dD |m|,  d|m| = SUM_h dD |k|,  d|v|/dv = v / |v|.
    """
    key, memory, norm_key, norm_memory, denominator, similarity = residuals
    d_dot = g / denominator
    d_den = -d_dot * similarity
    d_norm_key = xp.sum(d_den * norm_memory[..., None, :], axis=-1)
    d_norm_memory = xp.sum(d_den * norm_key[..., :, None], axis=-2)
    d_key = d_dot @ memory + (d_norm_key / norm_key)[..., None] * key
    d_memory = outer(d_dot, key) + (d_norm_memory / norm_memory)[..., None] * memory
    return d_key, d_memory


# ---------------------------------------------------------------- read (stage 14)

def read_memory_fwd(xp, memory, weight):
    """r_h = w_h Mem, and the residuals."""
    return weight @ memory, (memory, weight)


def read_memory_bwd(xp, residuals, g):
    """dMem = SUM_h w_h g_h^T (an outer product, see ``outer``), dw_h = g_h Mem^T."""
    memory, weight = residuals
    return outer(weight, g), g @ memory.mT
