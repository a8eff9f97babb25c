"""The neural stack, queue and deque of STACKS.md Part 1 over a batch, written once for
any array library (an ops table ``xp``: backends/torch/ops.py, backends/jax/ops.py).

One method per stage (controller, interface, activations, strengths, read, output), the
pops, push and sums as their own small methods, so that a kernel bug is a subclass that
overrides one of them (``bugs.py``).  Not the reference: that is ``reference.py``, an
independent unbatched numpy program.

Rows are preallocated: R = T rows (deque 2T), so the step never changes a shape.
Stack and queue put row i (1-based) at index i-1; the deque grows from the middle: at
step t its rows occupy indices T-t .. T+t-1 (the new bottom row at T-t, the new top row
at T+t-1), so that nothing moves when both ends push.  Unused rows have strength 0 and
value 0; every operation on them is a relu of a non-positive number or a product with a
zero weight, so they receive no gradient.  The strength trace is this layout itself
(``layout.py`` documents it; the reference pads its rows the same way).

The capacity: a stack needs T to preallocate, so the drivers pass it,
``initial_state(params, batch, steps)``.

Ties: the spec's LEFT-argument rule, with explicit selections: max(0, x) is
``where(x > 0, x, 0)`` (gradient 1 only for x > 0), min(a, b) is ``where(a <= b, a, b)``
(the whole gradient to a at a == b).  ``where`` routes the gradient to the selected
branch in torch and JAX; their maximum / minimum would split ties 0.5/0.5.

The sums SUM_{j>i} and SUM_{j<i} are cumulative sums over the rows (reversed for the
rows above), shifted by one row to leave row i out: O(R) per step, where a triangular
matrix product would be O(R^2), and a cumsum accumulates from the end the pop and read
act on, the reference's order (exactly so in torch on CPU; JAX's CPU cumsum and GPU
scans may associate differently, which moves sums by an ulp: only an exact tie could
notice, and the ties that arise in practice are sums of exact values, 0, 1 and 0.5,
exact in any order).  The shift is a concatenation, not a subtraction of s[i] from an
inclusive sum, which would not be exact.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.controller import controller, output

from .layout import split_interface


class BatchedStack:
    # The operations this form takes from its ops table (``Family.ops``); the optional
    # ``matmul`` (a low-precision mode's products) is looked up by name.
    OPS = frozenset({"index_array", "exp", "log", "tanh", "sigmoid", "softplus", "sum", "max",
                     "concat", "stop_gradient", "broadcast_to", "zeros_like_shape", "where",
                     "cumsum", "flip"})

    def __init__(self, xp, cfg):
        self.xp = xp
        self.cfg = cfg
        self._rows = {}

    def matmul(self, a, b):
        """a @ b, or the ops table's (a low-precision mode's) product."""
        mm = getattr(self.xp, "matmul", None)
        return a @ b if mm is None else mm(a, b)

    # ------------------------------------------------------------ the tie rule
    def relu(self, x):
        """max(0, x): gradient 1 for x > 0, 0 for x <= 0."""
        return self.xp.where(x > 0, x, 0.0)

    def minimum(self, a, b):
        """min(a, b): the value and the gradient of a where a <= b."""
        return self.xp.where(a <= b, a, b)

    # ------------------------------------------------------------ sums over rows
    def _zero_column(self, s):
        return self.xp.zeros_like_shape(s, (s.shape[0], 1))

    def sum_above(self, s):
        """SUM_{j>i} s[j] for every row i, accumulated from the top down."""
        xp = self.xp
        inclusive = xp.flip(xp.cumsum(xp.flip(s, -1), -1), -1)   # SUM_{j>=i}
        return xp.concat([inclusive[:, 1:], self._zero_column(s)], axis=-1)

    def sum_below(self, s):
        """SUM_{j<i} s[j] for every row i, accumulated from the bottom up."""
        xp = self.xp
        inclusive = xp.cumsum(s, -1)                               # SUM_{j<=i}
        return xp.concat([self._zero_column(s), inclusive[:, :-1]], axis=-1)

    # ------------------------------------------------------------ state
    def rows(self, count):
        """The row indices 0..count-1 (cached: an index array per capacity)."""
        if count not in self._rows:
            self._rows[count] = self.xp.index_array(np.arange(count))
        return self._rows[count]

    def initial_state(self, params, batch, steps=None):
        """No rows (R = T, deque 2T, all strength 0, value 0); r_0 = init.read; zero LSTM
        state; ``t`` counts the steps done (a float scalar, so that it is carried like
        any array)."""
        xp, cfg = self.xp, self.cfg
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"BatchedStack.initial_state: steps (the sequence length T, "
                             f"which sizes the preallocated rows) expected an integer >= 1, "
                             f"got {steps!r}")
        rows = int(steps) * cfg.ends
        ref = params["init.read"]
        zeros = xp.zeros_like_shape(ref, (batch, cfg.H))
        return {
            "h": zeros,
            "cell": zeros,
            "read": xp.broadcast_to(ref[None], (batch,) + tuple(ref.shape)),
            "strength": xp.zeros_like_shape(ref, (batch, rows)),
            "value": xp.zeros_like_shape(ref, (batch, rows, cfg.m)),
            "t": xp.zeros_like_shape(ref, ()),
        }

    # ------------------------------------------------------------ 1. controller
    def controller(self, params, u, state):
        """u [B, X + reads] -> (c_t, cell_t or None)."""
        return controller(self.xp, self.matmul, self.cfg.controller, self.cfg.H, params, u,
                          state["h"], state["cell"])

    # ------------------------------------------------------------ 2. interface
    def interface(self, params, c):
        return self.matmul(c, params["interface.weight"].mT) + params["interface.bias"]

    # ------------------------------------------------------------ 3. activations
    def activations(self, raw):
        """push d = sigmoid(d^), pop u = sigmoid(u^), value v = tanh(v^)."""
        xp = self.xp
        return {name: (xp.tanh(z) if name.startswith("value") else xp.sigmoid(z))
                for name, z in raw.items()}

    # ------------------------------------------------------------ 4. strengths
    def pop_top(self, s, u):
        """s'[i] = max(0, s[i] - max(0, u - SUM_{j>i} s[j]))."""
        return self.relu(s - self.relu(u[:, None] - self.sum_above(s)))

    def pop_bottom(self, s, u):
        """s'[i] = max(0, s[i] - max(0, u - SUM_{j<i} s[j]))."""
        return self.relu(s - self.relu(u[:, None] - self.sum_below(s)))

    def push(self, s, V, d, v, index):
        """Row ``index`` (a scalar array) gets strength d and value v."""
        xp = self.xp
        at = index == self.rows(s.shape[-1])                       # [R]
        return xp.where(at, d[:, None], s), xp.where(at[:, None], v[:, None, :], V)

    def strengths(self, state, act):
        """Pop (on the rows before this step's push), then push; returns (s_t, V_t)."""
        s, V, done = state["strength"], state["value"], state["t"]
        model = self.cfg.model
        if model == "stack":
            return self.push(self.pop_top(s, act["pop"]), V, act["push"], act["value"], done)
        if model == "queue":
            return self.push(self.pop_bottom(s, act["pop"]), V, act["push"], act["value"],
                             done)
        middle = s.shape[-1] // 2
        s = self.pop_bottom(self.pop_top(s, act["pop.top"]), act["pop.bottom"])
        s, V = self.push(s, V, act["push.bottom"], act["value.bottom"], middle - 1 - done)
        return self.push(s, V, act["push.top"], act["value.top"], middle + done)

    # ------------------------------------------------------------ 5. read
    def read_top(self, s, V):
        """r = SUM_i min(s[i], max(0, 1 - SUM_{j>i} s[j])) V[i]."""
        w = self.minimum(s, self.relu(1.0 - self.sum_above(s)))
        return self.xp.sum(w[..., None] * V, axis=-2)

    def read_bottom(self, s, V):
        """r = SUM_i min(s[i], max(0, 1 - SUM_{j<i} s[j])) V[i]."""
        w = self.minimum(s, self.relu(1.0 - self.sum_below(s)))
        return self.xp.sum(w[..., None] * V, axis=-2)

    def read(self, s, V):
        """{trace name: read}: stack from the top, queue from the bottom, deque both."""
        if self.cfg.model == "stack":
            return {"read": self.read_top(s, V)}
        if self.cfg.model == "queue":
            return {"read": self.read_bottom(s, V)}
        return {"read.top": self.read_top(s, V), "read.bottom": self.read_bottom(s, V)}

    # ------------------------------------------------------------ 6. output
    def output(self, params, c, read):
        return output(self.xp, self.matmul, params, c, read)

    # ------------------------------------------------------------ one step
    def step(self, params, state, x):
        """x [B, X] -> (next state, record of trace name -> [B, ...])."""
        xp, cfg = self.xp, self.cfg
        record = {}
        u = xp.concat([x, state["read"].reshape((x.shape[0], -1))], axis=-1)
        c, cell = self.controller(params, u, state)
        record["controller"] = c
        if cell is not None:
            record["controller_cell"] = cell
        xi = self.interface(params, c)
        record["interface"] = xi
        act = self.activations(split_interface(xi, cfg))
        record.update(act)
        s, V = self.strengths(state, act)
        record["strength"] = s
        reads = self.read(s, V)
        record.update(reads)
        read = reads["read"] if cfg.model != "deque" else \
            xp.concat([reads["read.top"][:, None], reads["read.bottom"][:, None]], axis=1)
        logits = self.output(params, c, read)
        record["logits"] = logits
        next_state = {"h": c, "cell": cell if cell is not None else state["cell"],
                      "read": read, "strength": s, "value": V, "t": state["t"] + 1.0}
        return next_state, record

    # ------------------------------------------------------------ loss
    def loss(self, logits, targets, mask):
        """Per-sequence loss [B]: bce SUM_Y softplus(y) - z y; softmax logsumexp(y) -
        SUM_Y z y (nats); times the mask, summed over T."""
        xp = self.xp
        if self.cfg.loss == "bce":
            per_step = xp.sum(xp.softplus(logits) - targets * logits, axis=-1)
        else:
            top = xp.stop_gradient(xp.max(logits, axis=-1, keepdims=True))
            lse = top[..., 0] + xp.log(xp.sum(xp.exp(logits - top), axis=-1))
            per_step = lse - xp.sum(targets * logits, axis=-1)
        return xp.sum(mask * per_step, axis=-1)
