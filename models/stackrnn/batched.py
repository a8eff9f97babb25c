"""The Stack-RNN of STACKS.md Part 2 over a batch, written once for any array library.

``BatchedStackRNN`` has one method per stage (``layout.py``), each a few lines of batched
math against an ops table ``xp`` (backends/torch/ops.py, backends/jax/ops.py); both
bundled drivers (``forward`` / ``sequence_loss`` in backends/<lib>/driver.py) run it.
It is deliberately not the reference: the stack update is written with shifts
(concatenation) over the whole [B, K, D] stack, not row by row.

Shapes: B batch; x [B, V]; h [B, H]; action [B, K, actions]; push_value [B, K];
stack [B, K, D].  Table entries used: sigmoid, softmax(z, axis), sum, concat,
zeros_like_shape, broadcast_to, where(cond, a, b) and logsumexp(z, axis); optionally
matmul (a precision mode's matrix product).
"""

EMPTY = -1.0
CLIP = 50.0


class BatchedStackRNN:
    # The operations this form takes from its ops table (``Family.ops``); the optional
    # ``matmul`` (a low-precision mode's products) is looked up by name.
    OPS = frozenset({"sigmoid", "softmax", "logsumexp", "sum", "concat", "where",
                     "zeros_like_shape"})

    EMPTY = EMPTY    # what an empty row holds (the paper's -1); a class attribute

    def __init__(self, xp, cfg):
        self.xp = xp
        self.cfg = cfg

    def matmul(self, a, b):
        """a @ b, or the ops table's ``matmul`` where a precision mode supplies one."""
        mm = getattr(self.xp, "matmul", None)
        return a @ b if mm is None else mm(a, b)

    # ------------------------------------------------------------ state
    def initial_state(self, params, batch, steps=None):
        """h_0 = 0, every stack row EMPTY."""
        xp, cfg = self.xp, self.cfg
        h = xp.zeros_like_shape(params["U"], (batch, cfg.H))
        stack = xp.zeros_like_shape(params["U"], (batch, cfg.K, cfg.D)) + self.EMPTY
        return {"h": h, "stack": stack}

    # ------------------------------------------------------------ 1. hidden
    def read_stacks(self, params, stack):
        """SUM_s P_s s[0:k] -> [B, H]: per stack [K, H, k] @ [B, K, k, 1]."""
        top = stack[:, :, :self.cfg.k]
        return self.xp.sum(self.matmul(params["P"], top[..., None])[..., 0], axis=1)

    def hidden(self, params, x, h_prev, stack_prev):
        z = self.matmul(x, params["U"].mT) + self.matmul(h_prev, params["R"].mT) \
            + self.read_stacks(params, stack_prev) + params["bias.hidden"]
        return self.xp.sigmoid(z)

    # ------------------------------------------------------------ 2. actions
    def clip(self, z):
        """[-50, 50], gradient 1 on the closed interval
        (``diffmem.models.stackrnn.reference.clip``)."""
        xp = self.xp
        return xp.where(z > CLIP, CLIP, xp.where(z < -CLIP, -CLIP, z))

    def action(self, params, h):
        """softmax over the actions of A_s h + bias: [K, A, H] @ [B, 1, H, 1] -> [B, K, A]."""
        scores = self.matmul(params["A"], h[:, None, :, None])[..., 0] + params["bias.action"]
        return self.xp.softmax(scores, axis=-1)

    def push_value(self, params, h):
        return self.xp.sigmoid(self.clip(self.matmul(h, params["D"].mT) + params["bias.push"]))

    # ------------------------------------------------------------ 3. stack
    def pushed(self, stack, value):
        """Every row moved one down, the new value on top."""
        return self.xp.concat([value[..., None], stack[..., :-1]], axis=-1)

    def popped(self, stack):
        """Every row moved one up, EMPTY pulled in at the bottom."""
        bottom = self.xp.zeros_like_shape(stack, tuple(stack.shape[:-1]) + (1,)) + self.EMPTY
        return self.xp.concat([stack[..., 1:], bottom], axis=-1)

    def update_stack(self, stack, action, value):
        new = action[..., 0:1] * self.pushed(stack, value) + action[..., 1:2] * self.popped(stack)
        if "noop" in self.cfg.actions:
            new = new + action[..., 2:3] * stack
        return new

    # ------------------------------------------------------------ 4. logits
    def output(self, params, h):
        return self.matmul(h, params["V"].mT) + params["bias.output"]

    # ------------------------------------------------------------ one step
    def step(self, params, state, x):
        """x [B, V] -> (next state, record of trace name -> [B, ...])."""
        h = self.hidden(params, x, state["h"], state["stack"])
        action = self.action(params, h)
        value = self.push_value(params, h)
        stack = self.update_stack(state["stack"], action, value)
        logits = self.output(params, h)
        record = {"hidden": h, "action": action, "push_value": value, "stack": stack,
                  "logits": logits}
        return {"h": h, "stack": stack}, record

    # ------------------------------------------------------------ loss
    def loss(self, logits, targets, mask):
        """Per-sequence cross-entropy [B] in nats: logits, targets [B, T, V], mask [B, T]."""
        xp = self.xp
        per_step = xp.logsumexp(logits, axis=-1) - xp.sum(targets * logits, axis=-1)
        return xp.sum(mask * per_step, axis=-1)
