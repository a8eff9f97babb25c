"""A catalogue of realistic kernel bugs for the neural stack, queue and deque: the
harness's own test that it catches them.

Each bug is a small subclass of ``BatchedStack`` overriding one method (two where one
mistake lives in a pair, e.g. max and min), with:

- ``STAGES``: where the harness must localise it: the ``Stage`` values of ``layout``
  ("controller", "interface", "activations", "strengths", "read", "logits"; several for
  a helper used at several stages), "loss", or "gradient-only" (forward values
  identical, only gradients differ);
- ``NEEDS``: case tags that expose it ("ties", "queue", "deque", "ragged", ...).

The harness wraps a bug as a backend (the bundled PyTorch driver running it):
``diffmem check --backend diffmem.models.stack.bugs:pop_after_push``.
"""

from __future__ import annotations

from diffmem.models.family import GRADIENT_ONLY, LOSS

from .batched import BatchedStack
from .layout import ACTIVATIONS, CONTROLLER, LOGITS, READ, STRENGTHS


class Bug(BatchedStack):
    STAGES: tuple = ()
    NEEDS: tuple = ()
    # The tie-splitting maximum and minimum the tie rule must not use (TiesSplitHalf).
    OPS = BatchedStack.OPS | {"maximum", "minimum"}


# ---------------------------------------------------------------- the tie rule

class TiesSplitHalf(Bug):
    """max(0, x) and min(a, b) written with the framework's maximum / minimum, which
    split the gradient 0.5/0.5 at ties (the spec: all of it to the left argument)."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("ties",)

    def relu(self, x):
        return self.xp.maximum(x, 0.0 * x)

    def minimum(self, a, b):
        return self.xp.minimum(a, b)


# ---------------------------------------------------------------- 1. controller

class InitReadIgnored(Bug):
    """r_0 = 0 instead of the learned init.read."""
    STAGES = (CONTROLLER,)

    def initial_state(self, params, batch, steps=None):
        state = super().initial_state(params, batch, steps)
        return dict(state, read=0.0 * state["read"])


class ReadNotFedBack(Bug):
    """The controller input leaves r_{t-1} out (zeros in its place)."""
    STAGES = (CONTROLLER,)

    def controller(self, params, u, state):
        X = self.cfg.X
        zeros = self.xp.zeros_like_shape(u, (u.shape[0], u.shape[1] - X))
        return super().controller(params, self.xp.concat([u[:, :X], zeros], axis=-1), state)


# ---------------------------------------------------------------- 3. activations

class PushPopSwapped(Bug):
    """The interface layout misread: push d^ and pop u^ swapped (adjacent slots)."""
    STAGES = (ACTIVATIONS,)

    def activations(self, raw):
        swapped = {}
        for name, z in raw.items():
            other = name.replace("push", "@").replace("pop", "push").replace("@", "pop")
            swapped[other] = z
        return super().activations(swapped)


class ValueWithoutTanh(Bug):
    """The pushed value v = v^, without tanh."""
    STAGES = (ACTIVATIONS,)

    def activations(self, raw):
        act = super().activations(raw)
        return {k: (raw[k] if k.startswith("value") else v) for k, v in act.items()}


# ---------------------------------------------------------------- 4. strengths

class PopAfterPush(Bug):
    """The pop acts after this step's push, so it can remove the row just pushed (the
    spec: the pop acts on what was there before)."""
    STAGES = (STRENGTHS,)

    def strengths(self, state, act):
        model = self.cfg.model
        s, V, done = state["strength"], state["value"], state["t"]
        if model == "deque":
            middle = s.shape[-1] // 2
            s, V = self.push(s, V, act["push.bottom"], act["value.bottom"], middle - 1 - done)
            s, V = self.push(s, V, act["push.top"], act["value.top"], middle + done)
            return self.pop_bottom(self.pop_top(s, act["pop.top"]), act["pop.bottom"]), V
        s, V = self.push(s, V, act["push"], act["value"], done)
        pop = self.pop_top if model == "stack" else self.pop_bottom
        return pop(s, act["pop"]), V


class StrengthNotClamped(Bug):
    """The pop's outer max(0, .) dropped: a pop larger than a row drives it negative."""
    STAGES, NEEDS = (STRENGTHS,), ("ties",)

    def pop_top(self, s, u):
        return s - self.relu(u[:, None] - self.sum_above(s))

    def pop_bottom(self, s, u):
        return s - self.relu(u[:, None] - self.sum_below(s))


class SumIncludesRow(Bug):
    """SUM_{j>i} (and SUM_{j<i}) taken with j >= i: the inclusive cumulative sum,
    unshifted.  One helper, used by the pops and the reads."""
    STAGES = (STRENGTHS, READ)

    def sum_above(self, s):
        xp = self.xp
        return xp.flip(xp.cumsum(xp.flip(s, -1), -1), -1)

    def sum_below(self, s):
        return self.xp.cumsum(s, -1)


class DequeRenumberOffByOne(Bug):
    """The deque's new bottom row lands one row too high (T - t + 1, on the old bottom
    row; at step 1 on the top row's slot) instead of T - t."""
    STAGES, NEEDS = (STRENGTHS,), ("deque",)

    def strengths(self, state, act):
        if self.cfg.model != "deque":
            return super().strengths(state, act)
        s, V, done = state["strength"], state["value"], state["t"]
        middle = s.shape[-1] // 2
        s = self.pop_bottom(self.pop_top(s, act["pop.top"]), act["pop.bottom"])
        s, V = self.push(s, V, act["push.bottom"], act["value.bottom"], middle - done)
        return self.push(s, V, act["push.top"], act["value.top"], middle + done)


class StrengthGradientStopped(Bug):
    """The strengths carried to the next step are detached: the values are right, the
    gradient through earlier steps' strengths is lost."""
    STAGES = (GRADIENT_ONLY,)

    def strengths(self, state, act):
        return super().strengths(dict(state, strength=self.xp.stop_gradient(state["strength"])),
                                 act)


# ---------------------------------------------------------------- 5. read

class BudgetNotClamped(Bug):
    """The read's budget 1 - SUM without the outer max(0, .): once the rows above hold
    more than 1, min(s, budget) goes negative."""
    STAGES = (READ,)

    def read_top(self, s, V):
        w = self.minimum(s, 1.0 - self.sum_above(s))
        return self.xp.sum(w[..., None] * V, axis=-2)

    def read_bottom(self, s, V):
        w = self.minimum(s, 1.0 - self.sum_below(s))
        return self.xp.sum(w[..., None] * V, axis=-2)


class QueueReadsWrongEnd(Bug):
    """The queue reads from the newest row (the stack's read) instead of the oldest."""
    STAGES, NEEDS = (READ,), ("queue",)

    def read(self, s, V):
        if self.cfg.model == "queue":
            return {"read": self.read_top(s, V)}
        return super().read(s, V)


class DequeReadsSwapped(Bug):
    """The deque's two reads swapped: r^top read in the queue form (from the bottom) and
    r^bot in the stack form."""
    STAGES, NEEDS = (READ,), ("deque",)

    def read(self, s, V):
        if self.cfg.model == "deque":
            return {"read.top": self.read_bottom(s, V), "read.bottom": self.read_top(s, V)}
        return super().read(s, V)


# ---------------------------------------------------------------- 6. output and loss

class OutputFromControllerOnly(Bug):
    """y_t from c_t alone (the paper's wiring; diffmem's spec feeds [c_t ; r_t])."""
    STAGES = (LOGITS,)

    def output(self, params, c, read):
        return super().output(params, c, 0.0 * read)


class LossWithoutMask(Bug):
    """The loss sums every step, ignoring the mask."""
    STAGES, NEEDS = (LOSS,), ("ragged",)

    def loss(self, logits, targets, mask):
        return super().loss(logits, targets, 0.0 * mask + 1.0)


BUGS = (TiesSplitHalf, InitReadIgnored, ReadNotFedBack, PushPopSwapped, ValueWithoutTanh,
        PopAfterPush, StrengthNotClamped, SumIncludesRow, DequeRenumberOffByOne,
        StrengthGradientStopped, BudgetNotClamped, QueueReadsWrongEnd, DequeReadsSwapped,
        OutputFromControllerOnly, LossWithoutMask)


def bugs() -> dict:
    """name -> bug class, in catalogue order."""
    return {cls.__name__: cls for cls in BUGS}
