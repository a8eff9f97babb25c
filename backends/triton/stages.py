"""The kernels of ``kernels.py`` as differentiable stages: each a small class whose
``forward(*inputs) -> (out, residuals)`` and ``backward(residuals, grad) -> input
grads`` launch one kernel each, wrapped once in a ``torch.autograd.Function``.

A stage names its kernels as class attributes (``fwd_kernel``, ``bwd_kernel``), so a
variant (a kernel under development, or a catalogued bug in ``bugs.py``) is a subclass
that swaps one kernel or one launcher and inherits the rest.

Every launch is grid = (B,): one program per sequence, every head of the kind inside.
"""

from __future__ import annotations

import torch

from . import kernels as K


def _c(t):
    return t if t.is_contiguous() else t.contiguous()


def differentiable(stage):
    """stage -> a function of tensors, differentiable through ``stage.backward``."""
    class StageFunction(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            inputs = tuple(_c(x) if torch.is_tensor(x) else x for x in inputs)
            out, residuals = stage.forward(*inputs)
            ctx.save_for_backward(*residuals)
            return out

        @staticmethod
        def backward(ctx, grad):
            return stage.backward(ctx.saved_tensors, _c(grad))

    StageFunction.__name__ = type(stage).__name__ + "Function"
    return StageFunction.apply


class ContentStage:
    """w_content = softmax(beta * cosine(key, Mem)) (NTM.md stage 4)."""
    fwd_kernel, bwd_kernel = K.content_fwd, K.content_bwd

    def forward(self, key, beta, memory):
        B, heads, M = key.shape
        N = memory.shape[1]
        out = key.new_empty((B, heads, N))
        self.fwd_kernel[(B,)](key, beta, memory, out, heads, N, M,
                              HB=K.block(heads), NB=K.block(N), MB=K.block(M))
        return out, (key, beta, memory, out)

    def backward(self, saved, grad):
        key, beta, memory, w_content = saved
        B, heads, M = key.shape
        N = memory.shape[1]
        d_key, d_beta, d_mem = (torch.empty_like(x) for x in (key, beta, memory))
        self.bwd_kernel[(B,)](key, beta, memory, w_content, grad, d_key, d_beta, d_mem,
                              heads, N, M, HB=K.block(heads), NB=K.block(N), MB=K.block(M))
        return d_key, d_beta, d_mem


class GateStage:
    """w_gated = g w_content + (1 - g) w_prev (stage 5)."""
    fwd_kernel, bwd_kernel = K.gate_fwd, K.gate_bwd

    def forward(self, w_content, gate, w_prev):
        B, heads, N = w_content.shape
        out = torch.empty_like(w_content)
        self.fwd_kernel[(B,)](w_content, gate, w_prev, out, heads, N,
                              HB=K.block(heads), NB=K.block(N))
        return out, (w_content, gate, w_prev)

    def backward(self, saved, grad):
        w_content, gate, w_prev = saved
        B, heads, N = w_content.shape
        d_wc, d_gate, d_wp = (torch.empty_like(x) for x in (w_content, gate, w_prev))
        self.bwd_kernel[(B,)](w_content, gate, w_prev, grad, d_wc, d_gate, d_wp, heads, N,
                              HB=K.block(heads), NB=K.block(N))
        return d_wc, d_gate, d_wp


class ShiftStage:
    """w_shifted[i] = SUM_j s_j w_gated[(i - shifts[j]) mod N] (stage 6)."""
    fwd_kernel, bwd_kernel = K.shift_fwd, K.shift_bwd

    def forward(self, w_gated, shift, offsets):
        B, heads, N = w_gated.shape
        out = torch.empty_like(w_gated)
        self.fwd_kernel[(B,)](w_gated, shift, offsets, out, heads, N, S=shift.shape[-1],
                              HB=K.block(heads), NB=K.block(N))
        return out, (w_gated, shift, offsets)

    def backward(self, saved, grad):
        w_gated, shift, offsets = saved
        B, heads, N = w_gated.shape
        d_wg, d_shift = torch.empty_like(w_gated), torch.empty_like(shift)
        self.bwd_kernel[(B,)](w_gated, shift, offsets, grad, d_wg, d_shift, heads, N,
                              S=shift.shape[-1], HB=K.block(heads), NB=K.block(N))
        return d_wg, d_shift, None


class SharpenStage:
    """weight = softmax(gamma log(w_shifted + EPS)) (stage 7)."""
    fwd_kernel, bwd_kernel = K.sharpen_fwd, K.sharpen_bwd

    def forward(self, w_shifted, gamma):
        B, heads, N = w_shifted.shape
        out = torch.empty_like(w_shifted)
        self.fwd_kernel[(B,)](w_shifted, gamma, out, heads, N, HB=K.block(heads),
                              NB=K.block(N))
        return out, (w_shifted, gamma, out)

    def backward(self, saved, grad):
        w_shifted, gamma, weight = saved
        B, heads, N = w_shifted.shape
        d_ws, d_gamma = torch.empty_like(w_shifted), torch.empty_like(gamma)
        self.bwd_kernel[(B,)](w_shifted, gamma, weight, grad, d_ws, d_gamma, heads, N,
                              HB=K.block(heads), NB=K.block(N))
        return d_ws, d_gamma


class WriteStage:
    """Mem_t = Mem_{t-1} * PROD_h (1 - w_h e_h^T) + SUM_h w_h a_h^T (stage 8)."""
    fwd_kernel, bwd_kernel = K.write_fwd, K.write_bwd

    def forward(self, memory, weight, erase, add):
        B, N, M = memory.shape
        out = torch.empty_like(memory)
        self.fwd_kernel[(B,)](memory, weight, erase, add, out, N, M, WH=weight.shape[1],
                              NB=K.block(N), MB=K.block(M))
        return out, (memory, weight, erase, add)

    def backward(self, saved, grad):
        memory, weight, erase, add = saved
        B, N, M = memory.shape
        grads = tuple(torch.empty_like(x) for x in saved)
        self.bwd_kernel[(B,)](memory, weight, erase, add, grad, *grads, N, M,
                              WH=weight.shape[1], NB=K.block(N), MB=K.block(M))
        return grads


class ReadStage:
    """r_h = w_h^T Mem_t (stage 14)."""
    fwd_kernel, bwd_kernel = K.read_fwd, K.read_bwd

    def forward(self, memory, weight):
        B, N, M = memory.shape
        heads = weight.shape[1]
        out = memory.new_empty((B, heads, M))
        self.fwd_kernel[(B,)](memory, weight, out, heads, N, M, HB=K.block(heads),
                              NB=K.block(N), MB=K.block(M))
        return out, (memory, weight)

    def backward(self, saved, grad):
        memory, weight = saved
        B, N, M = memory.shape
        heads = weight.shape[1]
        d_mem, d_w = torch.empty_like(memory), torch.empty_like(weight)
        self.bwd_kernel[(B,)](memory, weight, grad, d_mem, d_w, heads, N, M,
                              HB=K.block(heads), NB=K.block(N), MB=K.block(M))
        return d_mem, d_w
