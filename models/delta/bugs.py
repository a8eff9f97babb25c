"""The kernel-bug catalogue of delta/1 (DELTA.md, "Kernel-bug catalogue", 12, most from
fla's history): each a small subclass of ``BatchedDelta`` overriding one method (two where
one mistake lives in a pair), with

- ``STAGES``: where the harness must localise it (``layout``'s stages, or
  ``GRADIENT_ONLY``);
- ``NEEDS``: case tags that expose it.

Plus ``variants()``: correct rewrites (the per-step recurrence over the same ops table),
a second correct float64 implementation to test the harness with.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.family import GRADIENT_ONLY

from .batched import BatchedDelta
from .layout import DELTA, OUTPUT, STATE, NORMALISE, sequences


class Bug(BatchedDelta):
    STAGES: tuple = ()
    NEEDS: tuple = ()


class TailMaskAfterExp(Bug):
    """fla #792 / PR #794: the tail chunk's out-of-range rows load the cumulative log
    decay as 0 (``boundary_check``'s fill); exp(0 - gc_j) overflows after a hard reset
    and is masked by multiplication afterwards: 0 * inf = NaN."""
    STAGES, NEEDS = (DELTA, STATE, OUTPUT), ("resets",)

    def decay_matrix(self, gc, valid):
        xp = self.xp
        loaded = xp.where(valid[:, :, None, :], gc, 0.0)
        lower = self.tril(True)
        decays = xp.where(lower, xp.exp(xp.where(lower, loaded[..., :, None]
                                                 - loaded[..., None, :], 0.0)), 0.0)
        in_range = xp.where(valid[:, :, None, :, None], 1.0,
                            xp.zeros_like_shape(gc, tuple(valid.shape[:2]) + (1, self.CHUNK, 1)))
        return decays * in_range


class StateHandoffUndecayed(Bug):
    """The next chunk starts from S + K^T(...) without exp(gc_last) on S."""
    STAGES, NEEDS = (STATE,), ("gated", "multi-chunk", "h0")

    def state_handoff(self, s0, kc, d, gc):
        xp = self.xp
        last = gc[..., -1:]
        return self.store(s0 + self.matmul(kc.swapaxes(-1, -2), xp.exp(last - gc)[..., None] * d))


class IntraChunkCausalMask(Bug):
    """shainet PR #170 (a literal reading of the GDN paper's section 3.3): the
    intra-chunk output uses the causal mask, not Gamma = tril(exp(gc_r - gc_j))."""
    STAGES, NEEDS = (OUTPUT,), ("gated",)

    def chunk_output(self, qc, kc, d, s0, gc, gamma):
        xp = self.xp
        causal = xp.where(self.tril(True), 1.0, xp.zeros_like_shape(gamma, tuple(gamma.shape)))
        return super().chunk_output(qc, kc, d, s0, gc, causal)


class WyTrilIncludesDiagonal(Bug):
    """Off by one: tril(diag(beta) K K^T, 0) instead of the strictly lower part."""
    STAGES = (DELTA,)

    def wy_matrix(self, kk, gamma, beta):
        xp = self.xp
        return xp.where(self.tril(True), beta[..., :, None] * (kk * gamma)[..., None, :, :], 0.0)


class CumsumOverHeads(Bug):
    """fla 12e2a700, 1d48579a: the within-chunk cumsum of g runs over heads, not time."""
    STAGES, NEEDS = (DELTA,), ("gated", "heads")

    def chunk_cumsum(self, g, lay):
        return self.xp.cumsum(self.to_chunks(g, lay), axis=3)


class VarlenCumsumAcrossSequences(Bug):
    """Varlen chunking (cf. fla ff76ca0d): the cumsum's chunks are aligned to the packed
    row, not to each sequence's start, so decays cross a sequence boundary."""
    STAGES, NEEDS = (DELTA,), ("varlen", "gated")

    def chunk_cumsum(self, g, lay):
        xp, C = self.xp, self.CHUNK
        B, T, HV = g.shape
        padded = -(-T // C) * C
        row = xp.concat([g, xp.zeros_like_shape(g, (B, padded - T, HV))], axis=1)
        gc = xp.cumsum(row.reshape((B, padded // C, C, HV)), axis=2).reshape((B * padded, HV))
        gc = xp.concat([gc, xp.zeros_like_shape(gc, (1, HV))], axis=0)
        at = lay["gather"]
        moved = np.where(at < B * T, at // T * padded + at % T, B * padded)
        # A pad row carries its chunk's last value (its g is 0), or 0 in an empty chunk.
        for n, m in zip(*np.nonzero((at == B * T).any(axis=-1))):
            rows = np.nonzero(at[n, m] < B * T)[0]
            moved[n, m, rows.size:] = moved[n, m, rows[-1]] if rows.size else B * padded
        return gc[self.index("row-aligned", moved)]


class VarlenTailReadsNextSequence(Bug):
    """A missing eos mask (fla #792's class, vllm-ascend PR #14192): a sequence's tail
    chunk takes in the next sequence's first steps; its outputs are right (causal), its
    final state is not."""
    STAGES, NEEDS = (STATE,), ("varlen",)

    def layout(self, batch, steps):
        lay = super().layout(batch, steps)
        if not self.cfg.varlen:
            return lay
        gather = lay["gather"].copy()
        C = self.CHUNK
        for n, (row, bos, eos) in enumerate(sequences(self.cfg, batch, steps)):
            length = eos - bos
            for p in range(length, -(-length // C) * C):
                if bos + p < steps:
                    gather[n, p // C, p % C] = row * steps + bos + p
        return dict(lay, gather=gather)


class GvaHeadsModulo(Bug):
    """repeat vs repeat_interleave: value head j reads q/k head j % H, not j // G."""
    STAGES, NEEDS = (DELTA,), ("gva",)

    def head_of_value(self):
        return np.arange(self.cfg.HV) % self.cfg.H


class ScaleBeforeL2norm(Bug):
    """An order slip: q is scaled before the in-kernel norm, which cancels the scale."""
    STAGES, NEEDS = (NORMALISE,), ("l2norm",)

    def normalise(self, q, k):
        if not self.cfg.qk_l2norm:
            return super().normalise(q, k)
        return self.l2norm(self.cfg.scale * q), self.l2norm(k)

    def chunk_output(self, qc, kc, d, s0, gc, gamma):
        out = super().chunk_output(qc, kc, d, s0, gc, gamma)
        return out / self.cfg.scale if self.cfg.qk_l2norm else out


class DhtIgnored(Bug):
    """flash-linear-attention-npu #312: the backward state recursion starts from 0, not
    from dht (the final state's cotangent never reaches q, k, v, g, beta or h0)."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("ht",)
    OPS = Bug.OPS | {"stop_gradient"}

    def final_term(self, params, ht):
        return super().final_term(params, self.xp.stop_gradient(ht))


class WyBwdDbMissingKTerm(Bug):
    """fla #862 / PR #863: without a gate, the WY backward drops the k-side terms of
    dbeta and dk (the gradient through the triangular system's K K^T)."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("ungated",)
    OPS = Bug.OPS | {"stop_gradient"}

    def wy_matrix(self, kk, gamma, beta):
        lower = super().wy_matrix(kk, gamma, beta)
        return lower if self.cfg.gated else self.xp.stop_gradient(lower)


class ChunkStateFp16(Bug):
    """"fp16 state": the per-chunk states kept in float16 between chunks."""
    STAGES, NEEDS = (STATE,), ("multi-chunk",)

    def state_handoff(self, s0, kc, d, gc):
        s = super().state_handoff(s0, kc, d, gc)
        if hasattr(s, "astype"):     # numpy, JAX
            return s.astype("float16").astype(s.dtype)
        return s.half().to(s.dtype)  # torch


BUGS = (TailMaskAfterExp, StateHandoffUndecayed, IntraChunkCausalMask, WyTrilIncludesDiagonal,
        CumsumOverHeads, VarlenCumsumAcrossSequences, VarlenTailReadsNextSequence,
        GvaHeadsModulo, ScaleBeforeL2norm, DhtIgnored, WyBwdDbMissingKTerm, ChunkStateFp16)


def bugs() -> dict:
    """name -> bug class, in catalogue order."""
    return {cls.__name__: cls for cls in BUGS}


# ---------------------------------------------------------------- a correct rewrite

class Recurrent(BatchedDelta):
    """The per-step recurrence over the ops table (every sequence padded to whole chunks
    in the chunk layout, whose pad rows are no-ops): a second correct implementation."""

    def forward(self, params, inputs):
        xp, cfg = self.xp, self.cfg
        batch, steps = inputs.shape[0], inputs.shape[1]
        lay = self._layout(batch, steps)
        from .layout import split_inputs
        parts = split_inputs(inputs, cfg)
        records = {}
        qh, kh = self.normalise(parts["q"], parts["k"])
        if cfg.qk_l2norm:
            records["q_norm"], records["k_norm"] = qh, kh
        g = parts["g"] if cfg.gated else xp.zeros_like_shape(inputs, (batch, steps, cfg.HV))
        if cfg.gated:
            records["decay"] = xp.exp(g)
        rows = lambda x: (lambda c: c.reshape((c.shape[0], -1) + tuple(c.shape[3:])))(
            self.to_chunks(x, lay))                                  # [N, L, ...]
        q, k = rows(self.value_heads(qh)), rows(self.value_heads(kh))
        v, beta, alpha = rows(parts["v"]), rows(parts["beta"]), xp.exp(rows(g))
        s = self.initial_states(params, inputs)
        outs, deltas, ends = [], [], []
        for t in range(q.shape[1]):
            decayed = alpha[:, t, :, None, None] * s
            d = beta[:, t] * (v[:, t] - xp.sum(decayed * k[:, t, :, :, None], axis=2))
            s = decayed + k[:, t, :, :, None] * d[:, :, None, :]
            outs.append(cfg.scale * xp.sum(s * q[:, t, :, :, None], axis=2))
            deltas.append(d)
            if (t + 1) % self.CHUNK == 0:
                ends.append(s)
        stack = (lambda xs: xp.concat([x[:, None] for x in xs], axis=1))
        back = (lambda x: self.from_chunks(x.reshape((x.shape[0], lay["chunks"], self.CHUNK)
                                                     + tuple(x.shape[2:])), lay, batch, steps))
        records["delta"], records["output"] = back(stack(deltas)), back(stack(outs))
        ends = stack(ends)
        records["state"] = ends.reshape((-1,) + tuple(ends.shape[2:]))[lay["state_idx"]]
        return records["output"], s, records


def variants() -> dict:
    return {"Recurrent": Recurrent}
