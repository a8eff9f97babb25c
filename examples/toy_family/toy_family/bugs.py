"""The toy family's kernel bugs: plain subclasses of the batched form, each with the
stage where the harness must name it (``STAGES``) and the case tags that expose it."""

from .model import HIDDEN, LOGITS, BatchedToy


class ToyLeakDropped(BatchedToy):
    """The recurrence a * h_{t-1} left out."""
    STAGES, NEEDS = (HIDDEN,), ()

    def hidden(self, params, x, h):
        return super().hidden(params, x, 0.0 * h)


class ToyOutputBiasDropped(BatchedToy):
    """The output bias c left out."""
    STAGES, NEEDS = (LOGITS,), ()

    def logits(self, params, h):
        return h @ params["V"].mT


BUGS = {cls.__name__: cls for cls in (ToyLeakDropped, ToyOutputBiasDropped)}
