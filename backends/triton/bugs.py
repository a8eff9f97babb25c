"""Kernel bugs injected into the Triton kernels themselves: the harness's test that it
catches and localises mistakes made inside a GPU kernel, not only in torch code.

Each bug is a ``TritonNTM`` subclass that swaps one stage (``model.py``) for a variant
whose kernel is a copy of the production kernel with one realistic slip: a mask over
the block instead of the rows, an off-by-one in the circular index, a gradient reduced
over the wrong axis, a lost head, a product accumulated in half precision, ...  The
production kernels know nothing of them.

``STAGES`` and ``NEEDS`` as in ``diffmem.models.ntm.bugs``: where the harness must
localise the bug (NTM.md stages, or ``GRADIENT_ONLY``), and fixture tags that
expose it.  Each is a backend: ``diffmem check --backend
diffmem.backends.triton.bugs:<snake_name>`` (with TRITON_INTERPRET=1 on CPU).
"""

from __future__ import annotations

import triton
import triton.language as tl

from diffmem.models.family import GRADIENT_ONLY
from diffmem.models.ntm.reference.layout import STAGES as S

from . import make_backend as _make_backend
from .kernels import DELTA, EPS, circular, masked_softmax  # noqa: F401 (used inside kernels)
from .model import TritonNTM
from .stages import ContentStage, GateStage, ReadStage, SharpenStage, ShiftStage, WriteStage


class TritonBug(TritonNTM):
    STAGES: tuple = ()
    NEEDS: tuple = ()


# ---------------------------------------------------------------- 4. content addressing

@triton.jit
def _content_fwd_block_mask(key_ptr, beta_ptr, mem_ptr, out_ptr, HEADS, N, M,
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
    # BUG: the softmax's mask covers the whole block, so padded rows (similarity 0)
    # take part in the normalisation.
    w_content = masked_softmax(beta[:, None] * similarity, n[None, :] < NB)
    tl.store(out_ptr + b * HEADS * N + h[:, None] * N + n[None, :], w_content, mask=hn)


class ContentSoftmaxBlockMask(TritonBug):
    """The content softmax is masked by the block width instead of N: the padding rows
    of a power-of-two block (N = 1, 6, 7 here) share the attention."""
    STAGES, NEEDS = (S[4],), ("n1",)

    class content_stage(ContentStage):
        fwd_kernel = _content_fwd_block_mask


@triton.jit
def _content_fwd_no_delta(key_ptr, beta_ptr, mem_ptr, out_ptr, HEADS, N, M,
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
    # BUG: DELTA left out of the norms: a zero key or memory row gives 0 / 0.
    norm_key = tl.sqrt(tl.sum(key * key, axis=1))
    norm_mem = tl.sqrt(tl.sum(mem * mem, axis=1))
    similarity = dot / (norm_key[:, None] * norm_mem[None, :])
    w_content = masked_softmax(beta[:, None] * similarity, n[None, :] < N)
    tl.store(out_ptr + b * HEADS * N + h[:, None] * N + n[None, :], w_content, mask=hn)


class ContentNormWithoutDelta(TritonBug):
    """The cosine's norms without DELTA: NaN for an all-zero key or memory row."""
    STAGES, NEEDS = (S[4],), ("zero-norm",)

    class content_stage(ContentStage):
        fwd_kernel = _content_fwd_no_delta


@triton.jit
def _content_fwd_no_max(key_ptr, beta_ptr, mem_ptr, out_ptr, HEADS, N, M,
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
    # BUG: no max subtracted ("|K| <= 1, so beta K is bounded"): beta is not bounded,
    # and exp(beta K) overflows float32 above 88.
    e = tl.where(n[None, :] < N, tl.exp(beta[:, None] * similarity), 0.0)
    tl.store(out_ptr + b * HEADS * N + h[:, None] * N + n[None, :],
             e / tl.sum(e, axis=1)[:, None], mask=hn)


class ContentSoftmaxWithoutMax(TritonBug):
    """The content softmax without its max subtraction, a shortcut tried while writing
    this kernel (docs/triton.md): inf / inf = NaN once beta K > 88 in float32."""
    STAGES, NEEDS = (S[4],), ("overflow",)

    class content_stage(ContentStage):
        fwd_kernel = _content_fwd_no_max


# ---------------------------------------------------------------- 5. gate

@triton.jit
def _gate_fwd_rows_for_heads(wc_ptr, gate_ptr, wp_ptr, out_ptr, HEADS, N,
                             HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_content = tl.load(wc_ptr + offs, mask=hn, other=0.0)
    w_prev = tl.load(wp_ptr + offs, mask=hn, other=0.0)
    # BUG: the per-head gate loaded along the row axis (indexed by n, broadcast over heads).
    g = tl.load(gate_ptr + b * HEADS + n, mask=n < HEADS, other=0.0)[None, :]
    tl.store(out_ptr + offs, g * w_content + (1.0 - g) * w_prev, mask=hn)


class GateLoadedAlongRows(TritonBug):
    """The gate g_h is loaded with the row index instead of the head index: axes mixed up."""
    STAGES = (S[5],)

    class gate_stage(GateStage):
        fwd_kernel = _gate_fwd_rows_for_heads


@triton.jit
def _gate_bwd_swapped(wc_ptr, gate_ptr, wp_ptr, g_ptr, dwc_ptr, dgate_ptr, dwp_ptr, HEADS, N,
                      HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_content = tl.load(wc_ptr + offs, mask=hn, other=0.0)
    w_prev = tl.load(wp_ptr + offs, mask=hn, other=0.0)
    grad = tl.load(g_ptr + offs, mask=hn, other=0.0)
    g = tl.load(gate_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)[:, None]
    # BUG: the two weight gradients stored to each other's buffers.
    tl.store(dwp_ptr + offs, g * grad, mask=hn)
    tl.store(dwc_ptr + offs, (1.0 - g) * grad, mask=hn)
    tl.store(dgate_ptr + b * HEADS + h, tl.sum(grad * (w_content - w_prev), axis=1),
             mask=h < HEADS)


class GateGradsSwapped(TritonBug):
    """Backward of the gate writes d w_content and d w_prev to each other's outputs."""
    STAGES = (GRADIENT_ONLY,)

    class gate_stage(GateStage):
        bwd_kernel = _gate_bwd_swapped


# ---------------------------------------------------------------- 6. circular shift

@triton.jit
def _wrap_off_by_one(i, N):
    j = tl.where(i < 0, i + N, i)
    return tl.where(j > N, j - N, j)     # BUG: > where >= was meant: i = N is not wrapped


@triton.jit
def _shift_fwd_off_by_one(wg_ptr, shift_ptr, offsets_ptr, out_ptr, HEADS, N,
                          S: tl.constexpr, HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    rows = b * HEADS * N + h[:, None] * N
    acc = tl.zeros([HB, NB], dtype=out_ptr.dtype.element_ty)
    for j in tl.static_range(S):
        s = tl.load(shift_ptr + (b * HEADS + h) * S + j, mask=h < HEADS, other=0.0)
        source = _wrap_off_by_one(n - tl.load(offsets_ptr + j), N)
        inside = hn & (source >= 0) & (source < N)
        acc += s[:, None] * tl.load(wg_ptr + rows + source[None, :], mask=inside, other=0.0)
    tl.store(out_ptr + rows + n[None, :], acc, mask=hn)


class ShiftWrapOffByOne(TritonBug):
    """The circular index wraps with ``> N`` instead of ``>= N``: the weight shifted past
    the last row falls off instead of landing on row 0 (and shifts wider than N are
    not reduced)."""
    STAGES = (S[6],)

    class shift_stage(ShiftStage):
        fwd_kernel = _shift_fwd_off_by_one


@triton.jit
def _shift_bwd_same_direction(wg_ptr, shift_ptr, offsets_ptr, g_ptr, dwg_ptr, dshift_ptr,
                              HEADS, N, S: tl.constexpr, HB: tl.constexpr,
                              NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    rows = b * HEADS * N + h[:, None] * N
    grad = tl.load(g_ptr + rows + n[None, :], mask=hn, other=0.0)
    acc = tl.zeros([HB, NB], dtype=dwg_ptr.dtype.element_ty)
    for j in tl.static_range(S):
        offset = tl.load(offsets_ptr + j)
        s = tl.load(shift_ptr + (b * HEADS + h) * S + j, mask=h < HEADS, other=0.0)
        source = circular(n - offset, N)
        w_source = tl.load(wg_ptr + rows + source[None, :], mask=hn, other=0.0)
        tl.store(dshift_ptr + (b * HEADS + h) * S + j, tl.sum(grad * w_source, axis=1),
                 mask=h < HEADS)
        # BUG: the backward gathers with the forward's rotation, not its transpose.
        acc += s[:, None] * tl.load(g_ptr + rows + source[None, :], mask=hn, other=0.0)
    tl.store(dwg_ptr + rows + n[None, :], acc, mask=hn)


class ShiftGradNotTransposed(TritonBug):
    """The shift's backward rotates the gradient the same way as the forward
    (i - s) instead of back (k + s)."""
    STAGES = (GRADIENT_ONLY,)

    class shift_stage(ShiftStage):
        bwd_kernel = _shift_bwd_same_direction


# ---------------------------------------------------------------- 7. sharpening

@triton.jit
def _sharpen_bwd_heads_axis(ws_ptr, gamma_ptr, w_ptr, g_ptr, dws_ptr, dgamma_ptr, HEADS, N,
                            HB: tl.constexpr, NB: tl.constexpr):
    b = tl.program_id(0)
    h, n = tl.arange(0, HB), tl.arange(0, NB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    offs = b * HEADS * N + h[:, None] * N + n[None, :]
    w_shifted = tl.load(ws_ptr + offs, mask=hn, other=0.0)
    weight = tl.load(w_ptr + offs, mask=hn, other=0.0)
    grad = tl.load(g_ptr + offs, mask=hn, other=0.0)
    gamma = tl.load(gamma_ptr + b * HEADS + h, mask=h < HEADS, other=0.0)
    # BUG: the softmax backward's sum over rows taken over the heads axis instead.
    dz = weight * (grad - tl.sum(grad * weight, axis=0)[None, :])
    tl.store(dgamma_ptr + b * HEADS + h, tl.sum(dz * tl.log(w_shifted + EPS), axis=1),
             mask=h < HEADS)
    tl.store(dws_ptr + offs, dz * gamma[:, None] / (w_shifted + EPS), mask=hn)


class SharpenGradWrongAxis(TritonBug):
    """The sharpening softmax's backward reduces over the heads axis of the [heads, rows]
    block instead of the rows (shapes still agree: a [1, rows] broadcast)."""
    STAGES = (GRADIENT_ONLY,)

    class sharpen_stage(SharpenStage):
        bwd_kernel = _sharpen_bwd_heads_axis


# ---------------------------------------------------------------- 8. write

@triton.jit
def _write_fwd_lost_head(mem_ptr, w_ptr, erase_ptr, add_ptr, out_ptr, N, M,
                         WH: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    b = tl.program_id(0)
    n, m = tl.arange(0, NB), tl.arange(0, MB)
    nm = (n[:, None] < N) & (m[None, :] < M)
    offs = b * N * M + n[:, None] * M + m[None, :]
    memory = tl.load(mem_ptr + offs, mask=nm, other=0.0)
    keep = tl.full([NB, MB], 1.0, dtype=memory.dtype)
    added = tl.zeros([NB, MB], dtype=memory.dtype)
    for k in tl.static_range(1, WH):     # BUG: the head loop starts at 1: head 0 is lost
        w = tl.load(w_ptr + (b * WH + k) * N + n, mask=n < N, other=0.0)
        erase = tl.load(erase_ptr + (b * WH + k) * M + m, mask=m < M, other=0.0)
        add = tl.load(add_ptr + (b * WH + k) * M + m, mask=m < M, other=0.0)
        keep = keep * (1.0 - w[:, None] * erase[None, :])
        added += w[:, None] * add[None, :]
    tl.store(out_ptr + offs, memory * keep + added, mask=nm)


class WriteLostHead(TritonBug):
    """The write kernel's head loop starts at 1: write head 0 never erases or adds (with
    one write head, memory never changes)."""
    STAGES = (S[8],)

    class write_stage(WriteStage):
        fwd_kernel = _write_fwd_lost_head


# ---------------------------------------------------------------- 14. read

@triton.jit
def _read_fwd_half(mem_ptr, w_ptr, out_ptr, HEADS, N, M,
                   HB: tl.constexpr, NB: tl.constexpr, MB: tl.constexpr):
    b = tl.program_id(0)
    h, n, m = tl.arange(0, HB), tl.arange(0, NB), tl.arange(0, MB)
    hn = (h[:, None] < HEADS) & (n[None, :] < N)
    nm = (n[:, None] < N) & (m[None, :] < M)
    hm = (h[:, None] < HEADS) & (m[None, :] < M)
    w = tl.load(w_ptr + b * HEADS * N + h[:, None] * N + n[None, :], mask=hn, other=0.0)
    memory = tl.load(mem_ptr + b * N * M + n[:, None] * M + m[None, :], mask=nm, other=0.0)
    # BUG: products rounded to and summed in float16 (a "fast" accumulator).
    products = (w[:, :, None] * memory[None, :, :]).to(tl.float16)
    reads = tl.sum(products, axis=1).to(out_ptr.dtype.element_ty)
    tl.store(out_ptr + b * HEADS * M + h[:, None] * M + m[None, :], reads, mask=hm)


class ReadHalfAccumulation(TritonBug):
    """The read's products are accumulated in float16: about 3 decimal digits."""
    STAGES = (S[14],)

    class read_stage(ReadStage):
        fwd_kernel = _read_fwd_half


# ---------------------------------------------------------------- the catalogue

BUGS = {cls.__name__: cls for cls in TritonBug.__subclasses__()}


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _factory(cls):
    def make_backend(device="cpu", dtype="float64"):
        return _make_backend(device, dtype, model_cls=cls)
    make_backend.__name__ = make_backend.__qualname__ = _snake(cls.__name__)
    make_backend.__doc__ = cls.__doc__
    make_backend.bug = cls
    return make_backend


FACTORIES = {_snake(name): _factory(cls) for name, cls in BUGS.items()}
globals().update(FACTORIES)
