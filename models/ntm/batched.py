"""The NTM of NTM.md over a batch, written once for any array library.

``BatchedNTM`` holds one method per NTM.md stage, each a few lines of batched math
against ``self.xp``: a small table of array operations that each backend supplies
(``backends/torch/ops.py``, ``backends/jax/ops.py``).  The drivers around it differ
(a Python loop over time and torch.autograd; ``lax.scan``, ``jit`` and ``jax.grad``);
the math does not, so the two bundled backends cannot drift apart.

It is deliberately *not* the reference: the reference is an independent, unbatched
numpy program, and the harness compares the two.

Shapes: B batch, heads on the axis after B.  Keys [B, heads, M], scalars per head
[B, heads], weights [B, heads, N], memory [B, N, M].  Arrays are whatever ``xp`` makes.

The table's entries: index_array, exp, log, sqrt, tanh, sigmoid, softplus (exact,
logaddexp(z, 0)), softmax(z, axis), take_last(w, idx) (= w[..., idx]), sum, max, prod
(over a small axis, by plain products), concat, stop_gradient, broadcast_to,
zeros_like_shape(ref, shape); optionally write_memory, cosine_similarity and
read_memory, the stages of the same names with a hand-written gradient
(``backends/fused.py``), and matmul(a, b), how a low-precision mode forms the matrix
products (``a @ b`` without it; see ``matmul``).

A kernel bug is a subclass that overrides one method (see ``diffmem.models.ntm.bugs``).
"""

from diffmem.models.controller import controller, output
from diffmem.models.ntm.reference.addressing import DELTA, EPS, shift_index
from diffmem.models.ntm.reference.layout import split_interface


class BatchedNTM:
    # The operations this form takes from its ops table (``Family.ops``); the optional
    # ``matmul`` (a low-precision mode's products) and fused stages are looked up by name.
    OPS = frozenset({"index_array", "sum", "softplus", "sigmoid", "tanh", "sqrt", "log",
                     "softmax", "take_last", "prod", "concat", "broadcast_to",
                     "zeros_like_shape"})

    def __init__(self, xp, cfg):
        self.xp = xp
        self.cfg = cfg
        # idx[j, i] = (i - shifts[j]) mod N, shared with the reference's definition.
        self.shift_idx = xp.index_array(shift_index(cfg.shifts, cfg.N))

    # ------------------------------------------------------------ functions
    def softmax(self, z):
        """exp(z - max z) / sum: the stable form, the max outside the gradient (it is
        constant in value).  The ops table gives it as one fused operation."""
        return self.xp.softmax(z, axis=-1)

    def matmul(self, a, b):
        """a @ b.  Every matrix product of a step is written with this, so that an ops
        table for a low-precision mode (tf32, bfloat16, float16) decides how its
        operands are rounded (``xp.matmul``, e.g. backends/torch/precision_modes.py)."""
        mm = getattr(self.xp, "matmul", None)
        return a @ b if mm is None else mm(a, b)

    # ------------------------------------------------------------ state
    def initial_state(self, params, batch, steps=None):
        xp, cfg = self.xp, self.cfg

        def tile(a):  # learned initial values, the same for every sequence
            return xp.broadcast_to(a[None], (batch,) + tuple(a.shape))

        zeros = xp.zeros_like_shape(params["init.memory"], (batch, cfg.H))
        return {
            "memory": tile(params["init.memory"]),
            "reads": tile(params["init.read"]),
            "w_write": tile(self.softmax(params["init.write_logits"])),
            "w_read": tile(self.softmax(params["init.read_logits"])),
            "h": zeros,
            "cell": zeros,
        }

    # ------------------------------------------------------------ 1. controller
    def controller(self, params, u, state):
        """Returns (c_t, cell_t); cell_t is None for the feedforward controller."""
        return controller(self.xp, self.matmul, self.cfg.controller, self.cfg.H, params, u,
                          state["h"], state["cell"])

    # ------------------------------------------------------------ 2. interface
    def interface(self, params, c):
        return self.matmul(c, params["interface.weight"].mT) + params["interface.bias"]

    # ------------------------------------------------------------ 3. head activations
    def activate_head(self, raw):
        xp = self.xp
        head = {
            "key": raw["key"],
            "beta": xp.softplus(raw["beta"]),
            "gate": xp.sigmoid(raw["gate"]),
            "shift": self.softmax(raw["shift"]),
            "gamma": 1.0 + xp.softplus(raw["gamma"]),
        }
        if "erase" in raw:
            head["erase"] = xp.sigmoid(raw["erase"])
            head["add"] = xp.tanh(raw["add"])
        return head

    # ------------------------------------------------------------ 6. addressing
    def norm(self, v):
        xp = self.xp
        return xp.sqrt(xp.sum(v * v, axis=-1) + DELTA)

    def cosine_similarity(self, key, memory):
        # The ops table's fused version (hand-written gradient, backends/fused.py) is
        # the same math; only when no subclass has replaced ``norm`` inside it.
        fused = getattr(self.xp, "cosine_similarity", None)
        if fused is not None and type(self).norm is BatchedNTM.norm:
            return fused(key, memory)
        return self.matmul(key, memory.mT) / (self.norm(key)[..., :, None]
                                              * self.norm(memory)[..., None, :])

    def content_weights(self, key, beta, memory):
        return self.softmax(beta[..., None] * self.cosine_similarity(key, memory))

    def gated_weights(self, w_content, gate, w_prev):
        g = gate[..., None]
        return g * w_content + (1.0 - g) * w_prev

    def shifted_weights(self, w_gated, shift):
        gathered = self.xp.take_last(w_gated, self.shift_idx)   # [B, heads, S, N]
        return self.xp.sum(shift[..., None] * gathered, axis=-2)

    def sharpened_weights(self, w_shifted, gamma):
        return self.softmax(gamma[..., None] * self.xp.log(w_shifted + EPS))

    def address(self, head, memory, w_prev):
        w_content = self.content_weights(head["key"], head["beta"], memory)
        w_gated = self.gated_weights(w_content, head["gate"], w_prev)
        w_shifted = self.shifted_weights(w_gated, head["shift"])
        weight = self.sharpened_weights(w_shifted, head["gamma"])
        return {"w_content": w_content, "w_gated": w_gated, "w_shifted": w_shifted,
                "weight": weight}

    # ------------------------------------------------------------ 5. / 7. memory
    def write_memory(self, memory, weight, erase, add):
        """Mem * PROD_h (1 - w_h e_h^T) + SUM_h w_h a_h^T, all heads at once."""
        fused = getattr(self.xp, "write_memory", None)   # same math, hand-written gradient
        if fused is not None:
            return fused(memory, weight, erase, add)
        keep = self.xp.prod(1.0 - weight[..., :, :, None] * erase[..., :, None, :], axis=-3)
        return memory * keep + self.matmul(weight.mT, add)

    def read_memory(self, memory, weight):
        fused = getattr(self.xp, "read_memory", None)   # same math, hand-written gradient
        if fused is not None:
            return fused(memory, weight)
        return self.matmul(weight, memory)

    # ------------------------------------------------------------ 8. output
    def output(self, params, c, reads):
        return output(self.xp, self.matmul, params, c, reads)

    # ------------------------------------------------------------ one step
    def step(self, params, state, x):
        """x [B, X] -> (next state, record of trace name -> [B, ...])."""
        xp, cfg = self.xp, self.cfg
        record = {}
        u = xp.concat([x, state["reads"].reshape((x.shape[0], -1))], axis=-1)
        c, cell = self.controller(params, u, state)
        record["controller"] = c
        if cell is not None:
            record["controller_cell"] = cell
        xi = self.interface(params, c)
        record["interface"] = xi
        raw_write, raw_read = split_interface(xi, cfg)
        write = self.activate_head(raw_write)
        write.update(self.address(write, state["memory"], state["w_write"]))
        memory = self.write_memory(state["memory"], write["weight"], write["erase"], write["add"])
        read = self.activate_head(raw_read)
        read.update(self.address(read, memory, state["w_read"]))
        reads = self.read_memory(memory, read["weight"])
        logits = self.output(params, c, reads)

        record.update({f"write.{k}": v for k, v in write.items()})
        record["memory"] = memory
        record.update({f"read.{k}": v for k, v in read.items()})
        record["reads"] = reads
        record["logits"] = logits
        next_state = {"memory": memory, "reads": reads, "w_write": write["weight"],
                      "w_read": read["weight"], "h": c,
                      "cell": cell if cell is not None else state["cell"]}
        return next_state, record

    # ------------------------------------------------------------ loss
    def loss(self, logits, targets, mask):
        """Per-sequence loss [B]: logits, targets [B, T, Y], mask [B, T]."""
        xp = self.xp
        per_step = xp.sum(xp.softplus(logits) - targets * logits, axis=-1)
        return xp.sum(mask * per_step, axis=-1)
