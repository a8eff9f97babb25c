"""The Differentiable Neural Computer of DNC.md (``dnc/1``) over a batch, written once for
any array library.

``BatchedDNC`` holds one method per stage of DNC.md's trace (1 controller ... 15 logits),
and the allocation's steps (free list, exclusive product, scatter back) as methods of
their own, so that a kernel bug is a subclass overriding one method (``bugs.py``).  The
math is batched against an ops table ``xp`` (backends/torch/ops.py, backends/jax/ops.py);
both bundled drivers run it.  It is deliberately not the reference (``reference.py``, an
unbatched numpy program): it computes the allocation with a gather and a cumulative
product where the reference loops over the free list.

Shapes: B batch, head axes after B (the write head's of size 1, as DNC.md's trace).
Memory [B, N, W], link [B, N, N], usage and precedence [B, N], read weights [B, R, N],
write weights [B, 1, N], reads [B, R, W].

Numerical choices (DNC.md "Allocation", "Gradients"):

- Row-uniform arithmetic: every per-row quantity (the cosine's dot products and norms
  over W, retention, usage, the directional weightings' sums over N) is an elementwise
  product and a sum over the last axis, the same operations for every row, so rows with
  equal inputs stay bitwise equal and the tie rule can hold.  Not a matrix product, which
  may tile rows differently.  The linear layers and the reads are matrix products
  (``matmul``: an ops table's own where it has one).
- In a low-precision mode (a table with ``matmul``: backends/*/precision_modes.py) the
  products DNC.md "Numerics" rounds are that table's matrix products, as a tensor-core
  kernel forms them: the cosine's numerators k M^T, the write's outer product ww v^T and
  the directional products wr L^T, wr L (``products_rounded``).  Everything else stays
  float32 and row-uniform.  A float32 or float64 table has no ``matmul``, so those runs
  are the row-uniform sums above, bitwise as they were.
- The free list is ``xp.argsort`` (stable, ascending, ties to the lower index) of the
  usage itself: integer indices, so the permutation carries no gradient.  The allocation
  is differentiated as the polynomial of the sorted usages.
- The exclusive product P_j = PROD_{i<j} u[phi_i] is ``xp.cumprod`` of the first N-1
  sorted usages with 1 in front, differentiated as a product (never by dividing by a
  factor, which is 0/0 = NaN at the routine u = 0).
- The link's diagonal is multiplied by a constant 0 (an off-diagonal mask): no gradient
  flows through the formula there.

Table entries used: see ``OPS``; optionally ``matmul``.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.controller import controller, output
from diffmem.models.ntm.reference.addressing import DELTA   # NTM.md's cosine: 1e-16

from .layout import split_interface


class BatchedDNC:
    # The operations this form takes from its ops table (``Family.ops``); the optional
    # ``matmul`` (a low-precision mode's products) is looked up by name.
    OPS = frozenset({"index_array", "tanh", "sigmoid", "softplus", "softmax", "logsumexp",
                     "sqrt", "sum", "prod", "cumsum", "cumprod", "argsort",
                     "take_along_axis", "concat", "broadcast_to", "zeros_like_shape"})

    def __init__(self, xp, cfg):
        self.xp = xp
        self.cfg = cfg
        # A precision mode's table rounds matrix products (its ``matmul``): then the
        # spec's rounded products are formed as matrix products through it.
        self.products_rounded = getattr(xp, "matmul", None) is not None
        # 1 off the diagonal, 0 on it (an integer array of the table: a product with it
        # keeps the link's dtype): the link's diagonal is a constant 0.
        self.off_diagonal = xp.index_array(1 - np.eye(cfg.memory_rows, dtype=np.int64))

    # ------------------------------------------------------------ products
    def matmul(self, a, b):
        """a @ b for the linear layers and the reads, or the ops table's ``matmul`` where
        a precision mode rounds its products."""
        mm = getattr(self.xp, "matmul", None)
        return a @ b if mm is None else mm(a, b)

    def row_dot(self, a, b):
        """[..., h, K] . [..., N, K] -> [..., h, N]: SUM_k a[h, k] b[i, k] for every row i,
        the same elementwise products and sum for every row; in a precision mode the
        table's rounded matrix product a b^T."""
        if self.products_rounded:
            return self.matmul(a, b.mT)
        return self.xp.sum(a[..., :, None, :] * b[..., None, :, :], axis=-1)

    # ------------------------------------------------------------ state
    def initial_state(self, params, batch, steps=None):
        """M_{-1} = init.memory, r_{-1} = init.read; usage, write and read weightings,
        precedence, links and the LSTM state all 0 (DNC.md "Initial state")."""
        xp, cfg = self.xp, self.cfg
        N, R, H = cfg.memory_rows, cfg.read_heads, cfg.controller_size

        def tile(a):   # learned initial values, the same for every sequence
            return xp.broadcast_to(a[None], (batch,) + tuple(a.shape))

        def zeros(*shape):
            return xp.zeros_like_shape(params["init.memory"], (batch,) + shape)

        return {
            "memory": tile(params["init.memory"]),
            "reads": tile(params["init.read"]),
            "usage": zeros(N),
            "write_weight": zeros(1, N),
            "read_weight": zeros(R, N),
            "precedence": zeros(N),
            "link": zeros(N, N),
            "h": zeros(H),
            "cell": zeros(H),
        }

    # ------------------------------------------------------------ 1. controller
    def controller(self, params, chi, state):
        """chi = [x ; reads] -> (c_t, cell_t or None), NTM.md's controller."""
        return controller(self.xp, self.matmul, self.cfg.controller, self.cfg.controller_size,
                          params, chi, state["h"], state["cell"])

    # ------------------------------------------------------------ 2. interface
    def interface(self, params, c):
        return self.matmul(c, params["interface.weight"].mT) + params["interface.bias"]

    # ------------------------------------------------------------ 3. activations
    def strength(self, z):
        """oneplus(z) = 1 + softplus(z) (exact softplus), >= 1."""
        return 1.0 + self.xp.softplus(z)

    def read_modes(self, z):
        """[B, R, 3] raw -> softmax over each head's (backward, content, forward)."""
        return self.xp.softmax(z, axis=-1)

    def activate(self, xi):
        """The interface vector sliced in DNC.md's order (``layout.split_interface``) and
        activated: trace name -> [B, ...] (write fields with a head axis of size 1)."""
        xp = self.xp
        raw = split_interface(xi, self.cfg)
        return {
            "read.key": raw["read.key"],
            "read.strength": self.strength(raw["read.strength"]),
            "read.mode": self.read_modes(raw["read.mode"]),
            "free_gate": xp.sigmoid(raw["free_gate"]),
            "write.key": raw["write.key"],
            "write.strength": self.strength(raw["write.strength"]),
            "write.erase": xp.sigmoid(raw["write.erase"]),
            "write.vector": raw["write.vector"],
            "allocation_gate": xp.sigmoid(raw["allocation_gate"]),
            "write_gate": xp.sigmoid(raw["write_gate"]),
        }

    # ------------------------------------------------------------ 4. retention, usage
    def retention(self, free_gate, read_weight_prev):
        """psi = PROD_i (1 - f^i wr^i_{t-1}), heads multiplied in index order."""
        return self.xp.prod(1.0 - free_gate[..., None] * read_weight_prev, axis=1)

    def usage(self, usage_prev, write_weight_prev, retention):
        """u_t = (u + ww - u ww) psi, evaluated as DNC.md writes it; the gradient through
        ww_{t-1} is kept."""
        ww = write_weight_prev[:, 0]
        return (usage_prev + ww - usage_prev * ww) * retention

    # ------------------------------------------------------------ 5. allocation
    def free_list(self, usage):
        """phi_t: the rows in ascending order of usage, ties to the lower index."""
        return self.xp.argsort(usage, axis=-1)

    def exclusive_product(self, sorted_usage):
        """P_j = PROD_{i<j} s_i (P_0 = 1), a cumulative product differentiated as one."""
        xp = self.xp
        one = xp.zeros_like_shape(sorted_usage, (sorted_usage.shape[0], 1)) + 1.0
        return xp.concat([one, xp.cumprod(sorted_usage[:, :-1], axis=-1)], axis=-1)

    def sorted_usage(self, usage, order):
        """u[phi_j], j = 0 .. N-1: gathered with the free list itself, so that each sorted
        term's gradient reaches the row the free list put there."""
        return self.xp.take_along_axis(usage, order, axis=-1)

    def unsort(self, sorted_values, order):
        """v[phi_j] = sorted_values[j]: gathered with the inverse permutation."""
        xp = self.xp
        return xp.take_along_axis(sorted_values, xp.argsort(order, axis=-1), axis=-1)

    def allocation(self, usage):
        """(phi_t, a_t): a[phi_j] = (1 - u[phi_j]) PROD_{i<j} u[phi_i], phi a constant."""
        order = self.free_list(usage)
        s = self.sorted_usage(usage, order)
        return order, self.unsort((1.0 - s) * self.exclusive_product(s), order)

    def order_as_values(self, order, like):
        """The free list as float indices of ``like``'s dtype (the trace's
        ``allocation.order``): a gather of 0, 1, ..., N-1 built by a cumulative sum."""
        xp = self.xp
        positions = xp.cumsum(xp.zeros_like_shape(like, tuple(like.shape)) + 1.0, -1) - 1.0
        return xp.take_along_axis(positions, order, axis=-1)

    # ------------------------------------------------------------ 6. / 12. content
    def norm(self, v):
        """sqrt(SUM v^2 + DELTA) over the last axis."""
        return self.xp.sqrt(self.xp.sum(v * v, axis=-1) + DELTA)

    def cosine_similarity(self, key, memory):
        """K[h, i] = (k_h . M_i) / (norm(k_h) norm(M_i)): [B, h, W], [B, N, W] -> [B, h, N]."""
        return self.row_dot(key, memory) / (self.norm(key)[..., :, None]
                                            * self.norm(memory)[..., None, :])

    def content_weights(self, key, strength, memory):
        """softmax over rows of beta * K(M, k)."""
        return self.xp.softmax(strength[..., None] * self.cosine_similarity(key, memory),
                               axis=-1)

    # ------------------------------------------------------------ 7. write weighting
    def write_weights(self, allocation, content, allocation_gate, write_gate):
        """ww = g^w (g^a a + (1 - g^a) cw): [B, 1, N]."""
        ga, gw = allocation_gate[..., None], write_gate[..., None]
        return gw * (ga * allocation[:, None, :] + (1.0 - ga) * content)

    # ------------------------------------------------------------ 8. memory
    def write_memory(self, memory, write_weight, erase, vector):
        """M_t = M_{t-1} (1 - ww e^T) + ww v^T, outer products elementwise."""
        ww = write_weight[:, 0, :, None]                   # [B, N, 1]
        # ww v^T: in a mode the table's rounded product (the erase term stays float32)
        add = self.matmul(ww, vector) if self.products_rounded else ww * vector
        return memory * (1.0 - ww * erase) + add

    # ------------------------------------------------------------ 9. link
    def link(self, link_prev, write_weight, precedence_prev):
        """L[i, j] = (1 - ww[i] - ww[j]) L[i, j] + ww[i] p_{t-1}[j] off the diagonal,
        L[i, i] = 0."""
        ww = write_weight[:, 0]
        wi, wj = ww[:, :, None], ww[:, None, :]
        return ((1.0 - wi - wj) * link_prev + wi * precedence_prev[:, None, :]) \
            * self.off_diagonal

    # ------------------------------------------------------------ 10. precedence
    def precedence(self, precedence_prev, write_weight):
        """p_t = (1 - SUM_i ww[i]) p_{t-1} + ww."""
        ww = write_weight[:, 0]
        return (1.0 - self.xp.sum(ww, axis=-1, keepdims=True)) * precedence_prev + ww

    # ------------------------------------------------------------ 11. directions
    def directions(self, link, read_weight_prev):
        """(forward L wr, backward L^T wr) per read head, [B, R, N] each: sums of
        elementwise products, the same for every row (in a mode the table's rounded
        products wr L^T, wr L)."""
        if self.products_rounded:
            return (self.matmul(read_weight_prev, link.mT),
                    self.matmul(read_weight_prev, link))
        xp, L = self.xp, link[:, None]                     # [B, 1, N, N]
        forward = xp.sum(L * read_weight_prev[:, :, None, :], axis=-1)
        backward = xp.sum(L * read_weight_prev[:, :, :, None], axis=-2)
        return forward, backward

    # ------------------------------------------------------------ 13. read weighting
    def read_weights(self, mode, backward, content, forward):
        """wr = pi[0] bw + pi[1] cr + pi[2] fw (the paper's mode order)."""
        return mode[..., 0:1] * backward + mode[..., 1:2] * content + mode[..., 2:3] * forward

    # ------------------------------------------------------------ 14. reads
    def read_memory(self, memory, read_weight):
        """r^i = M^T wr^i: [B, R, W]."""
        return self.matmul(read_weight, memory)

    # ------------------------------------------------------------ 15. output
    def output(self, params, c, reads):
        return output(self.xp, self.matmul, params, c, reads)

    # ------------------------------------------------------------ one step
    def step(self, params, state, x):
        """x [B, X] -> (next state, record of trace name -> [B, ...])."""
        xp = self.xp
        chi = xp.concat([x, state["reads"].reshape((x.shape[0], -1))], axis=-1)
        c, cell = self.controller(params, chi, state)
        record = {"controller": c}
        if cell is not None:
            record["controller_cell"] = cell
        xi = self.interface(params, c)
        record["interface"] = xi
        f = self.activate(xi)
        record.update(f)

        psi = self.retention(f["free_gate"], state["read_weight"])
        usage = self.usage(state["usage"], state["write_weight"], psi)
        order, alloc = self.allocation(usage)
        write_content = self.content_weights(f["write.key"], f["write.strength"],
                                             state["memory"])
        write_weight = self.write_weights(alloc, write_content, f["allocation_gate"],
                                          f["write_gate"])
        memory = self.write_memory(state["memory"], write_weight, f["write.erase"],
                                   f["write.vector"])
        link = self.link(state["link"], write_weight, state["precedence"])
        precedence = self.precedence(state["precedence"], write_weight)
        forward, backward = self.directions(link, state["read_weight"])
        read_content = self.content_weights(f["read.key"], f["read.strength"], memory)
        read_weight = self.read_weights(f["read.mode"], backward, read_content, forward)
        reads = self.read_memory(memory, read_weight)
        logits = self.output(params, c, reads)

        record.update({
            "retention": psi, "usage": usage,
            "allocation.order": self.order_as_values(order, usage), "allocation": alloc,
            "write.content": write_content, "write.weight": write_weight,
            "memory": memory, "link": link, "precedence": precedence,
            "read.forward": forward, "read.backward": backward,
            "read.content": read_content, "read.weight": read_weight,
            "reads": reads, "logits": logits,
        })
        next_state = {"memory": memory, "reads": reads, "usage": usage,
                      "write_weight": write_weight, "read_weight": read_weight,
                      "precedence": precedence, "link": link, "h": c,
                      "cell": cell if cell is not None else state["cell"]}
        return next_state, record

    # ------------------------------------------------------------ loss
    def loss(self, logits, targets, mask):
        """Per-sequence loss [B]: logits, targets [B, T, Y], mask [B, T].  ``bce``:
        NTM.md's (softplus(y) - z y summed over outputs); ``softmax``: logsumexp(y) -
        SUM z y per step; both masked and summed over T, in nats."""
        xp = self.xp
        if self.cfg.loss == "softmax":
            per_step = xp.logsumexp(logits, axis=-1) - xp.sum(targets * logits, axis=-1)
        else:
            per_step = xp.sum(xp.softplus(logits) - targets * logits, axis=-1)
        return xp.sum(mask * per_step, axis=-1)
