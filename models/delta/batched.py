"""delta/1 over a batch as the chunked WY algorithm with C = 64 (DELTA.md, "Numerics";
Yang et al. 2024, section 3; fla's ``chunk_*_delta_rule``), written once for any array
library (an ops table ``xp``: backends/torch/ops.py, backends/jax/ops.py, or the
reference's autograd table in ``reference.py``).

Not the reference: that is the per-step recurrence of ``reference.py``.  This is an
implementation that must match it, and the bundled drivers run it, so that the kernel
bugs of ``bugs.py`` are one-method overrides of the chunk-level steps fla's kernels take.

Within a chunk of rows r = 0..C-1 (state S0 [K, V] before it, gc the within-chunk
cumulative sum of g, Gamma = tril(exp(gc_r - gc_j)) with its diagonal):

    S_r = exp(gc_r) S0 + SUM_{j<=r} exp(gc_r - gc_j) k_j d_j^T
    d_r = beta_r (v_r - exp(gc_r) S0^T k_r - SUM_{j<r} exp(gc_r - gc_j) (k_r . k_j) d_j)

so (I + L) D = diag(beta) (V - diag(exp(gc)) K S0), L = tril(diag(beta) (K K^T o Gamma), -1):
D = u - w S0 with A = (I + L)^-1 (forward substitution), u = A diag(beta) V,
w = A diag(beta exp(gc)) K.  Then o_r = scale (exp(gc_r) S0^T q_r + SUM_{j<=r}
exp(gc_r - gc_j) (q_r . k_j) d_j) and the state handed to the next chunk is
S_C = exp(gc_last) S0 + K^T diag(exp(gc_last - gc)) D.  With beta per value channel the
system decouples per channel c: one A per channel (the axis ``Vb`` below, 1 or V).

Layout: every sequence (a row, or a [bos, eos) piece of the one packed row under
cu_seqlens) is cut into its own chunks from its first step; the chunks of all sequences
sit in one array [N, NC, C, ...], gathered from the packed rows with a static index
(padded rows read a zero row: g = 0, beta = 0, k = v = 0, so they leave the state as it
is and contribute nothing).  Chunks are independent but for the state hand-off, which
runs over the NC chunk positions of all sequences at once.

``run_sequence(params, inputs, targets, mask, want_trace) -> (logits, loss, trace)`` is
what the drivers call (a whole-sequence form: there is no per-step ``step``).
"""

from __future__ import annotations

import numpy as np

from .config import CHUNK
from .layout import sequences, split_inputs, state_steps, trace_entries

EPS = 1e-6     # fla's l2norm: inside the square root


class BatchedDelta:
    CHUNK = CHUNK
    # From the ops table (``matmul`` and ``store`` are used where a table has them).
    OPS = frozenset({"index_array", "exp", "sqrt", "where", "cumsum", "sum", "concat",
                     "zeros_like_shape"})

    def __init__(self, xp, cfg):
        self.xp = xp
        self.cfg = cfg
        self._layouts = {}
        self._consts = {}

    # ------------------------------------------------------------ helpers
    def matmul(self, a, b):
        """a @ b, or the ops table's (a low-precision mode's) product."""
        mm = getattr(self.xp, "matmul", None)
        return a @ b if mm is None else mm(a, b)

    def store(self, x):
        """A tensor a kernel keeps in memory between its stages (A, w, u, d, the chunk
        states): the ops table rounds it to its storage format where it has one (the
        reference's emulated low-precision style), else it is kept as computed."""
        st = getattr(self.xp, "store", None)
        return x if st is None else st(x)

    def index(self, name, array):
        """A cached index array (static: made once per shape)."""
        if name not in self._consts:
            self._consts[name] = self.xp.index_array(np.asarray(array))
        return self._consts[name]

    # ------------------------------------------------------------ layout
    def layout(self, batch, steps):
        """Static gather indices (numpy): ``gather`` [N, NC, C] packed position b*T + t
        of each chunk row (B*T: the zero pad row), ``inverse`` [B*T] the flat chunk-row
        position of each packed step, ``state`` [B, S] the flat chunk index (n*NC + m)
        whose end state is each held step of the state trace."""
        C, cfg = self.CHUNK, self.cfg
        seqs = sequences(cfg, batch, steps)
        chunks = max([-(-(eos - bos) // C) for _, bos, eos in seqs] + [1])
        gather = np.full((cfg.N, chunks, C), batch * steps, dtype=np.int64)
        inverse = np.zeros(batch * steps, dtype=np.int64)
        owner = np.zeros((batch, steps), dtype=np.int64)
        for n, (row, bos, eos) in enumerate(seqs):
            p = np.arange(eos - bos)
            gather[n, p // C, p % C] = row * steps + bos + p
            inverse[row * steps + bos + p] = n * chunks * C + p
            owner[row, bos:eos] = n * chunks + p // C
        held = state_steps(cfg, steps)
        return {"gather": gather, "inverse": inverse, "state": owner[:, held],
                "chunks": chunks}

    def _layout(self, batch, steps):
        key = (batch, steps)
        if key not in self._layouts:
            lay = self.layout(batch, steps)
            lay = dict(lay, **{k + "_idx": self.xp.index_array(lay[k])
                               for k in ("gather", "inverse", "state")})
            lay["pad"] = batch * steps
            self._layouts[key] = lay
        return self._layouts[key]

    def to_chunks(self, x, lay):
        """Packed [B, T, ...] -> chunk rows [N, NC, C, ...] (pad rows zero)."""
        xp = self.xp
        flat = x.reshape((-1,) + tuple(x.shape[2:]))
        flat = xp.concat([flat, xp.zeros_like_shape(flat, (1,) + tuple(flat.shape[1:]))], axis=0)
        return flat[lay["gather_idx"]]

    def from_chunks(self, x, lay, batch, steps):
        """Chunk rows [N, NC, C, ...] -> packed [B, T, ...]."""
        flat = x.reshape((-1,) + tuple(x.shape[3:]))
        return flat[lay["inverse_idx"]].reshape((batch, steps) + tuple(x.shape[3:]))

    # ------------------------------------------------------------ 1. normalise
    def l2norm(self, x):
        """x / sqrt(SUM x^2 + 1e-6) over the last axis (fla's l2norm_fwd)."""
        xp = self.xp
        return x / xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True) + EPS)

    def normalise(self, q, k):
        """Stage 1: (qh, kh), [B, T, H, K] each; the identity without qk_l2norm."""
        if not self.cfg.qk_l2norm:
            return q, k
        return self.l2norm(q), self.l2norm(k)

    def head_of_value(self):
        """q/k head i = j // G of value head j (fla's GVA)."""
        return np.arange(self.cfg.HV) // self.cfg.G

    def value_heads(self, x):
        """[B, T, H, K] -> [B, T, HV, K]: each value head's q/k head."""
        return x[:, :, self.index("heads", self.head_of_value())]

    # ------------------------------------------------------------ 2. decay (log space)
    def chunk_cumsum(self, g, lay):
        """gc [N, NC, C, HV]: the cumulative sum of g within each chunk (time axis)."""
        return self.xp.cumsum(self.to_chunks(g, lay), axis=2)

    def tril(self, inclusive):
        C = self.CHUNK
        r = self.index("rows", np.arange(C))
        return (r[:, None] >= r[None, :]) if inclusive else (r[:, None] > r[None, :])

    def decay_matrix(self, gc, valid):
        """Gamma [N, NC, HV, C, C] = tril(exp(gc_r - gc_j)) (diagonal included), masked
        before the exp so that no entry above the diagonal ever overflows (g <= 0 makes
        gc_r - gc_j >= 0 there).  ``valid`` [N, NC, C] marks the rows that are steps."""
        xp = self.xp
        diff = gc[..., :, None] - gc[..., None, :]
        lower = self.tril(True)
        return xp.where(lower, xp.exp(xp.where(lower, diff, 0.0)), 0.0)

    # ------------------------------------------------------------ 3. the WY system
    def wy_matrix(self, kk, gamma, beta):
        """L [N, NC, HV, Vb, C, C] = tril(diag(beta) (K K^T o Gamma), -1), per channel."""
        xp = self.xp
        return xp.where(self.tril(False), beta[..., :, None] * (kk * gamma)[..., None, :, :], 0.0)

    def solve_lower(self, m):
        """M^-1 for lower-triangular M [..., C, C] (C a power of two).  With D = diag(M)
        and N = D^-1 M - I strictly lower (nilpotent, N^C = 0):
        M^-1 = (I + N)^-1 D^-1 = (I - N)(I + N^2)(I + N^4)...(I + N^(C/2)) D^-1,
        a product of log2(C) factors: the same matrix as fla's forward substitution
        (solve_tril), in 2 log2(C) products, which compiles to a small program where a
        row-by-row loop unrolls into C steps.  The diagonal need not be 1."""
        xp = self.xp
        eye = self._eye(m)
        diag = xp.sum(m * eye, axis=-1)                               # [..., C]
        n = (m - diag[..., None] * eye) / diag[..., :, None]
        inverse, power, reach = eye - n, n, 2
        while reach < m.shape[-1]:
            power = self.matmul(power, power)                          # N^reach
            inverse = inverse + self.matmul(inverse, power)
            reach *= 2
        return inverse / diag[..., None, :]

    def wy_factors(self, a, kc, vc, beta, gc):
        """w [N, NC, HV, Vb, C, K] = A diag(beta exp(gc)) K and u [N, NC, HV, C, V] =
        A diag(beta) V (per channel with beta per value)."""
        xp = self.xp
        w = self.matmul(a, (beta * xp.exp(gc)[..., None, :])[..., None] * kc[..., None, :, :])
        bv = beta.swapaxes(-1, -2) * vc                       # [N, NC, HV, C, V]
        if beta.shape[-2] == 1:
            u = self.matmul(a[..., 0, :, :], bv)
        else:
            u = self.matmul(a, bv.swapaxes(-1, -2)[..., None])[..., 0].swapaxes(-1, -2)
        return self.store(w), self.store(u)

    def delta(self, w, u, s0):
        """D = u - w S0 [N, HV, C, V] (fla's v_new): one chunk position, all sequences."""
        if w.shape[-3] == 1:
            return self.store(u - self.matmul(w[..., 0, :, :], s0))
        ws = self.matmul(w, s0.swapaxes(-1, -2)[..., None])[..., 0]   # [N, HV, V, C]
        return self.store(u - ws.swapaxes(-1, -2))

    # ------------------------------------------------------------ 4. state
    def state_handoff(self, s0, kc, d, gc):
        """S_C = exp(gc_last) S0 + K^T diag(exp(gc_last - gc)) D: the next chunk's S0."""
        xp = self.xp
        last = gc[..., -1:]                                   # [N, HV, 1]
        carried = xp.exp(last)[..., None] * s0
        return self.store(carried + self.matmul(kc.swapaxes(-1, -2),
                                                xp.exp(last - gc)[..., None] * d))

    # ------------------------------------------------------------ 5. output
    def chunk_output(self, qc, kc, d, s0, gc, gamma):
        """O [N, HV, C, V] = scale (diag(exp(gc)) Q S0 + (Q K^T o Gamma) D)."""
        xp = self.xp
        inter = xp.exp(gc)[..., None] * self.matmul(qc, s0)
        intra = self.matmul(self.matmul(qc, kc.swapaxes(-1, -2)) * gamma, d)
        return self.cfg.scale * (inter + intra)

    # ------------------------------------------------------------ the whole run
    def initial_states(self, params, like):
        cfg = self.cfg
        if cfg.initial_state:
            return params["h0"]
        return self.xp.zeros_like_shape(like, (cfg.N, cfg.HV, cfg.K, cfg.V))

    def forward(self, params, inputs):
        """inputs [B, T, X] -> (o [B, T, HV, V], ht [N, HV, K, V], records)."""
        xp, cfg = self.xp, self.cfg
        batch, steps = inputs.shape[0], inputs.shape[1]
        lay = self._layout(batch, steps)
        parts = split_inputs(inputs, cfg)
        records = {}
        qh, kh = self.normalise(parts["q"], parts["k"])
        if cfg.qk_l2norm:
            records["q_norm"], records["k_norm"] = qh, kh
        g = parts["g"] if cfg.gated else xp.zeros_like_shape(inputs, (batch, steps, cfg.HV))
        if cfg.gated:
            records["decay"] = xp.exp(g)
        # chunk rows, heads before rows: [N, NC, HV, C, ...]
        qc = self.to_chunks(self.value_heads(qh), lay).swapaxes(2, 3)
        kc = self.to_chunks(self.value_heads(kh), lay).swapaxes(2, 3)
        vc = self.to_chunks(parts["v"], lay).swapaxes(2, 3)
        beta = self.to_chunks(parts["beta"], lay).swapaxes(2, 3).swapaxes(-1, -2)  # [.., Vb, C]
        gc = self.chunk_cumsum(g, lay).swapaxes(-1, -2)                          # [.., HV, C]
        valid = lay["gather_idx"] < lay["pad"]
        gamma = self.decay_matrix(gc, valid)
        kk = self.matmul(kc, kc.swapaxes(-1, -2))
        a = self.store(self.solve_lower(self.wy_matrix(kk, gamma, beta) + self._eye(kk)))
        w, u = self.wy_factors(a, kc, vc, beta, gc)
        s = self.initial_states(params, inputs)
        deltas, outputs, ends = [], [], []
        for m in range(lay["chunks"]):
            d = self.delta(w[:, m], u[:, m], s)
            outputs.append(self.chunk_output(qc[:, m], kc[:, m], d, s, gc[:, m], gamma[:, m]))
            s = self.state_handoff(s, kc[:, m], d, gc[:, m])
            deltas.append(d)
            ends.append(s)
        stack = (lambda xs: xp.concat([x[:, None] for x in xs], axis=1))
        o = self.from_chunks(stack(outputs).swapaxes(2, 3), lay, batch, steps)
        records["delta"] = self.from_chunks(stack(deltas).swapaxes(2, 3), lay, batch, steps)
        ends = stack(ends)                                                   # [N, NC, HV, K, V]
        records["state"] = ends.reshape((-1,) + tuple(ends.shape[2:]))[lay["state_idx"]]
        records["output"] = o
        return o, s, records

    def _eye(self, like):
        xp, C = self.xp, self.CHUNK
        r = self.index("rows", np.arange(C))
        return xp.where(r[:, None] == r[None, :], 1.0, xp.zeros_like_shape(like, (C, C)))

    # ------------------------------------------------------------ loss
    def final_term(self, params, ht):
        """[N]: SUM dht[n] * ht[n], the final state's part of fla's test objective."""
        return self.xp.sum((params["dht"] * ht).reshape((ht.shape[0], -1)), axis=-1)

    def loss(self, o, ht, params, targets, mask):
        """L_b = SUM_t m_bt SUM do o + SUM_{n in row b} SUM dht[n] ht[n]."""
        xp, cfg = self.xp, self.cfg
        out = xp.sum(mask * xp.sum(targets * o.reshape(tuple(targets.shape)), axis=-1), axis=-1)
        if not cfg.output_final_state:
            return out
        final = self.final_term(params, ht)
        return out + (final if cfg.cu_seqlens is None else xp.sum(final, axis=0, keepdims=True))

    def run_sequence(self, params, inputs, targets, mask, want_trace=False):
        """The drivers' entry: (logits [B, T, Y], loss [B], trace {name: array} or None)."""
        o, ht, records = self.forward(params, inputs)
        logits = o.reshape((inputs.shape[0], inputs.shape[1], -1))
        loss = self.loss(o, ht, params, targets, mask)
        trace = {e.name: records[e.name] for e in trace_entries(self.cfg)} if want_trace else None
        return logits, loss, trace
