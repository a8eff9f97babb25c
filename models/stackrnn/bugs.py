"""A catalogue of realistic Stack-RNN kernel bugs: the harness's test that it catches them.

Each bug is a subclass of ``BatchedStackRNN`` overriding one method (or one class
constant), with ``STAGES``: the ``Stage`` values of layout.py where the harness must
localise it (the first diverging trace entry, earliest step first, then stage order),
``LOSS``, or ``GRADIENT_ONLY`` (forward identical, gradients differ); and ``NEEDS``: case tags
(cases.py) that expose it.  The harness wraps a bug as a backend (the bundled PyTorch
driver running it): ``--backend diffmem.models.stackrnn.bugs:<snake_name>``.

Not in the catalogue, on purpose: bugs in the push value's clip at +-50 (left out, or
straight-through).  Beyond the clip sigmoid is within 2e-22 of 0 or 1 and its slope below
2e-22, so no tolerance can tell such a kernel apart; the clip is kept for fidelity to
the original code, not because it changes numbers.
"""

from __future__ import annotations

from diffmem.models.family import GRADIENT_ONLY, LOSS

from .batched import BatchedStackRNN
from .layout import ACTIONS, HIDDEN, STACK


class Bug(BatchedStackRNN):
    STAGES: tuple = ()
    NEEDS: tuple = ()
    OPS = BatchedStackRNN.OPS | {"stop_gradient", "tanh"}


# ---------------------------------------------------------------- 1. hidden

class EmptyZero(Bug):
    """EMPTY = 0 (other ports' choice) instead of the paper's -1: the initial stack and
    what a pop pulls in at the bottom.  Seen first in h_1, which reads s_0."""
    STAGES, NEEDS = (HIDDEN,), ()
    EMPTY = 0.0


class NoRecurrence(Bug):
    """h_t without R h_{t-1}."""
    STAGES, NEEDS = (HIDDEN,), ()

    def hidden(self, params, x, h_prev, stack_prev):
        return super().hidden(params, x, 0.0 * h_prev, stack_prev)


class TanhHidden(Bug):
    """tanh instead of sigmoid for the hidden layer."""
    STAGES, NEEDS = (HIDDEN,), ()

    def hidden(self, params, x, h_prev, stack_prev):
        z = self.matmul(x, params["U"].mT) + self.matmul(h_prev, params["R"].mT) \
            + self.read_stacks(params, stack_prev) + params["bias.hidden"]
        return self.xp.tanh(z)


class ReadsBottomRows(Bug):
    """The k rows read are the bottom k, not the top k (s[D-k:] for s[0:k])."""
    STAGES, NEEDS = (HIDDEN,), ()

    def read_stacks(self, params, stack):
        top = stack[:, :, stack.shape[-1] - self.cfg.k:]
        return self.xp.sum(self.matmul(params["P"], top[..., None])[..., 0], axis=1)


class StaleStackRead(Bug):
    """h_t reads s_{t-2} (the stack before the previous update) instead of s_{t-1}: the
    state keeps the stack one step too long."""
    STAGES, NEEDS = (HIDDEN,), ()

    def step(self, params, state, x):
        read_from = state.get("stale", state["stack"])
        h = self.hidden(params, x, state["h"], read_from)
        action = self.action(params, h)
        value = self.push_value(params, h)
        stack = self.update_stack(state["stack"], action, value)
        record = {"hidden": h, "action": action, "push_value": value, "stack": stack,
                  "logits": self.output(params, h)}
        return {"h": h, "stack": stack, "stale": state["stack"]}, record

    def initial_state(self, params, batch, steps=None):
        state = super().initial_state(params, batch, steps)
        return dict(state, stale=state["stack"])


# ---------------------------------------------------------------- 2. actions

class ActionSoftmaxOverStacks(Bug):
    """The action softmax normalises over the stacks axis instead of the actions."""
    STAGES, NEEDS = (ACTIONS,), ()

    def action(self, params, h):
        scores = self.matmul(params["A"], h[:, None, :, None])[..., 0] + params["bias.action"]
        return self.xp.softmax(scores, axis=-2)


class ActionSoftmaxWithoutMax(Bug):
    """The action softmax as exp(s) / sum exp(s), without subtracting the max: inf / inf
    = NaN once the scores pass exp's range (saturated actions)."""
    STAGES, NEEDS = (ACTIONS,), ("saturated",)
    OPS = Bug.OPS | {"exp"}

    def action(self, params, h):
        scores = self.matmul(params["A"], h[:, None, :, None])[..., 0] + params["bias.action"]
        e = self.xp.exp(scores)
        return e / self.xp.sum(e, axis=-1, keepdims=True)


class ActionsFromPreviousHidden(Bug):
    """Actions and push value computed from h_{t-1} instead of h_t (stages reordered)."""
    STAGES, NEEDS = (ACTIONS,), ()

    def step(self, params, state, x):
        h = self.hidden(params, x, state["h"], state["stack"])
        action = self.action(params, state["h"])
        value = self.push_value(params, state["h"])
        stack = self.update_stack(state["stack"], action, value)
        record = {"hidden": h, "action": action, "push_value": value, "stack": stack,
                  "logits": self.output(params, h)}
        return {"h": h, "stack": stack}, record


class TanhPushValue(Bug):
    """The pushed value squashed with tanh instead of sigmoid."""
    STAGES, NEEDS = (ACTIONS,), ()

    def push_value(self, params, h):
        return self.xp.tanh(self.clip(self.matmul(h, params["D"].mT) + params["bias.push"]))


# ---------------------------------------------------------------- 3. stack

class StackShiftReversed(Bug):
    """The shift directions swapped: a_push moves rows up, a_pop moves them down."""
    STAGES, NEEDS = (STACK,), ()

    def update_stack(self, stack, action, value):
        new = action[..., 0:1] * self.popped(stack) + action[..., 1:2] * self.pushed(stack, value)
        if "noop" in self.cfg.actions:
            new = new + action[..., 2:3] * stack
        return new


class PopPullsZero(Bug):
    """A pop fills the bottom row with 0, not EMPTY (the initial stack is still EMPTY)."""
    STAGES, NEEDS = (STACK,), ()

    def popped(self, stack):
        bottom = self.xp.zeros_like_shape(stack, tuple(stack.shape[:-1]) + (1,))
        return self.xp.concat([stack[..., 1:], bottom], axis=-1)


class PopKeepsBottom(Bug):
    """A pop leaves the bottom row as it was (the value is duplicated upwards) instead of
    pulling in EMPTY: only seen once a real value sits at the bottom."""
    STAGES, NEEDS = (STACK,), ("shallow",)

    def popped(self, stack):
        return self.xp.concat([stack[..., 1:], stack[..., -1:]], axis=-1)


class NoopIgnored(Bug):
    """With actions push/pop/noop, the a_noop s_{t-1} term is dropped."""
    STAGES, NEEDS = (STACK,), ("noop",)

    def update_stack(self, stack, action, value):
        return action[..., 0:1] * self.pushed(stack, value) \
            + action[..., 1:2] * self.popped(stack)


# ---------------------------------------------------------------- loss

class LossMaskIgnored(Bug):
    """Every step counts in the loss, padding included (the mask is not applied)."""
    STAGES, NEEDS = (LOSS,), ("ragged",)

    def loss(self, logits, targets, mask):
        return super().loss(logits, targets, 0.0 * mask + 1.0)


# ---------------------------------------------------------------- gradient only

class StackGradientStopped(Bug):
    """The stack read in the hidden update is detached: no gradient flows back through
    the stack into earlier steps' actions and push values."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ()

    def read_stacks(self, params, stack):
        return super().read_stacks(params, self.xp.stop_gradient(stack))


class PushValueGradientStopped(Bug):
    """The pushed value is detached where it enters the stack: D and bias.push get no
    gradient."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ()

    def pushed(self, stack, value):
        return super().pushed(stack, self.xp.stop_gradient(value))


BUGS = (EmptyZero, NoRecurrence, TanhHidden, ReadsBottomRows, StaleStackRead,
        ActionSoftmaxOverStacks, ActionSoftmaxWithoutMax, ActionsFromPreviousHidden,
        TanhPushValue, StackShiftReversed, PopPullsZero, PopKeepsBottom, NoopIgnored,
        LossMaskIgnored, StackGradientStopped, PushValueGradientStopped)


def bugs() -> dict:
    """name -> bug class, in stage order."""
    return {cls.__name__: cls for cls in BUGS}
