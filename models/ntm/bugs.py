"""A catalogue of realistic kernel bugs: the harness's own test that it catches them.

Each bug is a small subclass of ``BatchedNTM`` that overrides one method (two where
the bug needs a value from elsewhere in the step), with:

- ``STAGES``: where it lives, i.e. where the harness must localise it: NTM.md stages
  (several for a function used at several stages), ``LOSS``, or ``GRADIENT_ONLY``
  (forward values identical, only gradients differ: made with
  ``xp.stop_gradient``);
- ``NEEDS``: fixture tags that expose it (Wh >= 2, LSTM, ragged masks, zero rows...):
  the bug hunt tries those cases first.

The bugs are plain classes; the harness wraps one as a backend (the bundled PyTorch
driver with the bug's model) when it is named ``diffmem check --backend
diffmem.models.ntm.bugs:<snake_name>`` (``backends.protocol.resolve_factory``).
``python -m diffmem.harness.bug_hunt`` runs them all and prints the kill rate.
"""

from __future__ import annotations

import numpy as np

from diffmem.models.family import GRADIENT_ONLY, LOSS
from diffmem.models.ntm.batched import BatchedNTM
from diffmem.models.ntm.reference.addressing import DELTA, EPS, shift_index
from diffmem.models.ntm.reference.layout import STAGES as S


class Bug(BatchedNTM):
    STAGES: tuple = ()
    NEEDS: tuple = ()
    # What the bugs below take from an ops table beyond the correct form's operations.
    OPS = BatchedNTM.OPS | {"exp", "max", "stop_gradient"}


# ---------------------------------------------------------------- 1. controller

class LstmGateOrder(Bug):
    """LSTM gates read in the order i, f, o, g (cuDNN-style) instead of NTM.md's i, f, g, o."""
    STAGES, NEEDS = (S[1],), ("lstm",)

    def controller(self, params, u, state):
        if self.cfg.controller != "lstm":
            return super().controller(params, u, state)
        xp, H = self.xp, self.cfg.H
        z = xp.concat([u, state["h"]], axis=-1) @ params["controller.weight"].mT \
            + params["controller.bias"]
        i, f = xp.sigmoid(z[:, :H]), xp.sigmoid(z[:, H:2 * H])
        o, g = xp.sigmoid(z[:, 2 * H:3 * H]), xp.tanh(z[:, 3 * H:])
        cell = f * state["cell"] + i * g
        return o * xp.tanh(cell), cell


class LstmForgetIgnored(Bug):
    """The cell state is not carried: cell_t = i * g (forget gate times cell_{t-1} dropped)."""
    STAGES, NEEDS = (S[1],), ("lstm",)

    def controller(self, params, u, state):
        return super().controller(params, u, dict(state, cell=0.0 * state["cell"]))


class LstmNoRecurrence(Bug):
    """h_{t-1} is never fed back into the LSTM (zeros instead)."""
    STAGES, NEEDS = (S[1],), ("lstm",)

    def controller(self, params, u, state):
        return super().controller(params, u, dict(state, h=0.0 * state["h"]))


class FeedforwardSigmoid(Bug):
    """Feedforward controller with sigmoid instead of tanh."""
    STAGES, NEEDS = (S[1],), ("feedforward",)

    def controller(self, params, u, state):
        if self.cfg.controller != "feedforward":
            return super().controller(params, u, state)
        xp = self.xp
        return xp.sigmoid(u @ params["controller.weight"].mT + params["controller.bias"]), None


class ReadsNotFedBack(Bug):
    """The previous reads r_{t-1} are left out of the controller input (zeros instead)."""
    STAGES = (S[1],)

    def controller(self, params, u, state):
        X = self.cfg.X
        zeros = self.xp.zeros_like_shape(u, (u.shape[0], u.shape[1] - X))
        return super().controller(params, self.xp.concat([u[:, :X], zeros], axis=-1), state)


# ---------------------------------------------------------------- 2. interface

class InterfaceBiasDropped(Bug):
    """The interface layer's bias is never added."""
    STAGES = (S[2],)

    def interface(self, params, c):
        return c @ params["interface.weight"].mT


# ---------------------------------------------------------------- 3. head activations

class GammaWithoutOne(Bug):
    """gamma = softplus(gamma^) instead of 1 + softplus(gamma^): sharpening can blur."""
    STAGES = (S[3],)

    def activate_head(self, raw):
        head = super().activate_head(raw)
        head["gamma"] = self.xp.softplus(raw["gamma"])
        return head


class BetaWithoutSoftplus(Bug):
    """beta = beta^ (no softplus): a negative key strength inverts content addressing."""
    STAGES = (S[3],)

    def activate_head(self, raw):
        head = super().activate_head(raw)
        head["beta"] = raw["beta"]
        return head


class BetaGateSwapped(Bug):
    """Interface layout misread: beta^ and gate^ swapped (adjacent slots of a head)."""
    STAGES = (S[3],)

    def activate_head(self, raw):
        return super().activate_head(dict(raw, beta=raw["gate"], gate=raw["beta"]))


class AddWithoutTanh(Bug):
    """The add vector is used raw, without tanh."""
    STAGES = (S[3],)

    def activate_head(self, raw):
        head = super().activate_head(raw)
        if "add" in raw:
            head["add"] = raw["add"]
        return head


class SoftplusThreshold(Bug):
    """softplus that returns z itself above 20 (torch.nn.functional.softplus's default
    threshold): beta and gamma off by ~2e-9 where their logits pass 20.  Within tolerance
    at its own stage; it surfaces downstream in float64 on sharp cases, and the suspect
    line points back at it."""
    STAGES, NEEDS = (S[3], S[9]), ("sharp",)

    def activate_head(self, raw):
        xp = self.xp

        def softplus(z):
            return xp.softplus(z) * (z <= 20.0) + z * (z > 20.0)
        head = super().activate_head(raw)
        head["beta"] = softplus(raw["beta"])
        head["gamma"] = 1.0 + softplus(raw["gamma"])
        return head


class ShiftSoftmaxOverHeads(Bug):
    """The shift softmax runs over the heads axis instead of the S shifts."""
    STAGES = (S[3],)

    def activate_head(self, raw):
        head = super().activate_head(raw)
        xp, z = self.xp, raw["shift"]
        e = xp.exp(z - xp.stop_gradient(xp.max(z, axis=-2, keepdims=True)))
        head["shift"] = e / xp.sum(e, axis=-2, keepdims=True)
        return head


# ---------------------------------------------------------------- 4.-7. addressing

class NormWithoutDelta(Bug):
    """DELTA dropped from the norm: a zero memory row or key gives 0/0 = NaN."""
    STAGES, NEEDS = (S[4],), ("zero-norm",)

    def norm(self, v):
        return self.xp.sqrt(self.xp.sum(v * v, axis=-1))


class DeltaOutsideSqrt(Bug):
    """sqrt(sum v^2) + DELTA instead of sqrt(sum v^2 + DELTA): the same values, but the
    gradient of sqrt at a zero row is infinite (NaN gradients)."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("zero-norm",)

    def norm(self, v):
        return self.xp.sqrt(self.xp.sum(v * v, axis=-1)) + DELTA


class CosineWithoutKeyNorm(Bug):
    """Cosine similarity divided by the memory row norms only, not the key's."""
    STAGES = (S[4],)

    def cosine_similarity(self, key, memory):
        return (key @ memory.mT) / self.norm(memory)[..., None, :]


class SoftmaxWithoutMax(Bug):
    """Softmax without subtracting the max: overflows (inf/inf = NaN) for large
    arguments, e.g. beta * K > 88 in float32.  Used in stages 3, 4, 7 and the initial
    weights (first seen in stage 5)."""
    STAGES, NEEDS = (S[3], S[4], S[5], S[7]), ("overflow",)

    def softmax(self, z):
        e = self.xp.exp(z)
        return e / self.xp.sum(e, axis=-1, keepdims=True)


class SoftmaxMaxOverBatch(Bug):
    """Softmax with its max taken over the batch as well as the row (one reduction for a
    whole block): the same value wherever nothing underflows, but a sequence whose
    arguments sit far below another sequence's max gets exp(.) = 0 everywhere and 0/0 =
    NaN (saturated attention: beta * K spread over hundreds)."""
    STAGES, NEEDS = (S[3], S[4], S[5], S[7]), ("saturated", "batch")

    def softmax(self, z):
        if len(z.shape) < 3:   # the initial weights [heads, N] carry no batch axis
            return super().softmax(z)
        xp = self.xp
        m = xp.stop_gradient(xp.max(xp.max(z, axis=-1, keepdims=True), axis=0,
                                    keepdims=True))
        e = xp.exp(z - m)
        return e / xp.sum(e, axis=-1, keepdims=True)


class GateSwapped(Bug):
    """Interpolation gate on the wrong side: g * w_prev + (1 - g) * w_content."""
    STAGES = (S[5],)

    def gated_weights(self, w_content, gate, w_prev):
        return super().gated_weights(w_prev, gate, w_content)


class InitWeightsNotSoftmaxed(Bug):
    """The initial head weights are the raw logits, not softmax(logits) (first visible
    where w_prev is used, stage 5)."""
    STAGES = (S[5],)

    def initial_state(self, params, batch, steps=None):
        state = super().initial_state(params, batch, steps)
        tile = (lambda a: self.xp.broadcast_to(a[None], (batch,) + tuple(a.shape)))
        state["w_write"] = tile(params["init.write_logits"])
        state["w_read"] = tile(params["init.read_logits"])
        return state


class ShiftWrongSign(Bug):
    """Shift applied with the wrong sign: offset +1 moves focus from row i to row i-1."""
    STAGES = (S[6],)

    def __init__(self, xp, cfg):
        super().__init__(xp, cfg)
        self.shift_idx = xp.index_array(shift_index([-s for s in cfg.shifts], cfg.N))


class ShiftWithoutWrap(Bug):
    """Linear instead of circular convolution: shifts past the ends fall off (zero pad)."""
    STAGES = (S[6],)

    def __init__(self, xp, cfg):
        super().__init__(xp, cfg)
        src = np.arange(cfg.N)[None, :] - np.array(cfg.shifts)[:, None]
        self.inside = xp.index_array(((src >= 0) & (src < cfg.N)).astype(np.int64))

    def shifted_weights(self, w_gated, shift):
        gathered = self.xp.take_last(w_gated, self.shift_idx) * self.inside
        return self.xp.sum(shift[..., None] * gathered, axis=-2)


class SharpeningSkipped(Bug):
    """w = w_shifted: the sharpening step is missing."""
    STAGES = (S[7],)

    def sharpened_weights(self, w_shifted, gamma):
        return w_shifted


class SharpeningNotNormalised(Bug):
    """w = (w_shifted + EPS)^gamma without renormalising over the rows."""
    STAGES = (S[7],)

    def sharpened_weights(self, w_shifted, gamma):
        return self.xp.exp(gamma[..., None] * self.xp.log(w_shifted + EPS))


class SharpeningLogWithoutEps(Bug):
    """Sharpening as softmax(gamma * log(w_shifted)) without NTM.md's EPS (the form a
    fused kernel writes): the same values, but where a shifted weight is exactly 0 the
    log is -inf and its gradient 0 * inf = NaN."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("saturated",)

    def sharpened_weights(self, w_shifted, gamma):
        return self.softmax(gamma[..., None] * self.xp.log(w_shifted))


class NoGradThroughPrevWeights(Bug):
    """No gradient flows through the previous weights w_prev (forward identical)."""
    STAGES = (GRADIENT_ONLY,)

    def gated_weights(self, w_content, gate, w_prev):
        return super().gated_weights(w_content, gate, self.xp.stop_gradient(w_prev))


# ---------------------------------------------------------------- 8. memory

class EraseAddSwapped(Bug):
    """Erase and add vectors swapped in the memory update."""
    STAGES = (S[8],)

    def write_memory(self, memory, weight, erase, add):
        return super().write_memory(memory, weight, add, erase)


class SequentialWriteHeads(Bug):
    """Write heads applied one after another (erase-add of head 0, then head 1 on the
    result) instead of all at once."""
    STAGES, NEEDS = (S[8],), ("multihead",)

    def write_memory(self, memory, weight, erase, add):
        for h in range(weight.shape[-2]):
            w = weight[..., h, :, None]
            memory = memory * (1.0 - w * erase[..., h, None, :]) + w * add[..., h, None, :]
        return memory


class EraseAsSubtraction(Bug):
    """Erase subtracted (Mem - w e^T) instead of multiplied (Mem * (1 - w e^T))."""
    STAGES = (S[8],)

    def write_memory(self, memory, weight, erase, add):
        return memory - weight.mT @ erase + weight.mT @ add


class BatchMemoryLeak(Bug):
    """Wrong batch stride: sequence b updates the memory of sequence b-1 (first visible
    at t=1, once the sequences' memories differ)."""
    STAGES, NEEDS = (S[8],), ("batch",)

    def write_memory(self, memory, weight, erase, add):
        leaked = self.xp.concat([memory[-1:], memory[:-1]], axis=0)
        return super().write_memory(leaked, weight, erase, add)


class NoGradThroughMemory(Bug):
    """No gradient flows through Mem_{t-1} into Mem_t (forward identical)."""
    STAGES = (GRADIENT_ONLY,)

    def write_memory(self, memory, weight, erase, add):
        return super().write_memory(self.xp.stop_gradient(memory), weight, erase, add)


# ---------------------------------------------------------------- 14. reads

class ReadBeforeWrite(Bug):
    """Reads use Mem_{t-1}, the memory before this step's write (addressing is right)."""
    STAGES = (S[14],)

    def write_memory(self, memory, weight, erase, add):
        self._before_write = memory
        return super().write_memory(memory, weight, erase, add)

    def read_memory(self, memory, weight):
        return weight @ self._before_write


# ---------------------------------------------------------------- 15. output

class OutputBiasDropped(Bug):
    """The output layer's bias is never added."""
    STAGES = (S[15],)

    def output(self, params, c, reads):
        return super().output(params, c, reads) - params["output.bias"]


class OutputIgnoresReads(Bug):
    """Logits from the controller output only; this step's reads are dropped."""
    STAGES = (S[15],)

    def output(self, params, c, reads):
        return super().output(params, c, 0.0 * reads)


# ---------------------------------------------------------------- loss and gradients

class MaskIgnored(Bug):
    """The mask is ignored: padded and unmasked steps count in the loss."""
    STAGES, NEEDS = (LOSS,), ("ragged",)

    def loss(self, logits, targets, mask):
        return super().loss(logits, targets, 1.0 + 0.0 * mask)


class UnstableLossSoftplus(Bug):
    """log(1 + exp(y)) in the loss: overflows to inf for y > 88 in float32."""
    STAGES, NEEDS = (LOSS,), ("extreme",)

    def loss(self, logits, targets, mask):
        xp = self.xp
        per_step = xp.sum(xp.log(1.0 + xp.exp(logits)) - targets * logits, axis=-1)
        return xp.sum(mask * per_step, axis=-1)


class GradientAveragedOverBatch(Bug):
    """Gradients averaged over the batch instead of summed (forward identical)."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("batch",)

    def loss(self, logits, targets, mask):
        loss = super().loss(logits, targets, mask)
        mean = loss / loss.shape[0]
        return mean + self.xp.stop_gradient(loss - mean)


class WrongGradInputs(Bug):
    """The gradient w.r.t. the inputs is doubled (a backward kernel that accumulates
    into grad_inputs twice); forward and parameter gradients are right."""
    STAGES = (GRADIENT_ONLY,)

    def controller(self, params, u, state):
        X, xp = self.cfg.X, self.xp
        x = u[:, :X]
        return super().controller(params, xp.concat([2.0 * x - xp.stop_gradient(x), u[:, X:]],
                                                    axis=-1), state)


class NoGradThroughLstmState(Bug):
    """No gradient through the LSTM's recurrent h_{t-1} (truncated BPTT; forward identical)."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("lstm",)

    def controller(self, params, u, state):
        return super().controller(params, u, dict(state, h=self.xp.stop_gradient(state["h"])))


# ---------------------------------------------------------------- the catalogue

BUGS = {cls.__name__: cls for cls in Bug.__subclasses__()}
