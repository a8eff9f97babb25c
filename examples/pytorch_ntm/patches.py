"""The patches: each removes one difference between pytorch-ntm and NTM.md.

A patch is small and touches pytorch-ntm only from the outside: it replaces or wraps one
method or module-level name for the duration of a run (``during_run``), or changes a
freshly built model (``on_model``), or replaces the loss the adapter computes the way
pytorch-ntm's ``train.py`` does (``loss``).  pytorch-ntm's files are never edited.

``PATCHES`` is in the order the walkthrough found them (docs/pytorch-ntm.md): with the first
k applied, ``diffmem check`` points at the difference that patch k+1 removes.
Select them by name or by count (``select``): ``DIFFMEM_PYNTM_PATCHES=all``, ``none``, ``3``
(the first three) or ``add_tanh,shift_direction``.
"""

from __future__ import annotations

import contextlib
import types
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from examples.patch_selection import select as select_patches

DELTA = 1e-16   # NTM.md step 6: inside the norm
EPS = 1e-16     # NTM.md step 6: inside the log of sharpening


@dataclass(frozen=True)
class Patch:
    name: str
    difference: str                               # what pytorch-ntm does, what NTM.md says
    during_run: Optional[Callable] = None         # () -> context manager
    on_model: Optional[Callable] = None           # (EncapsulatedNTM) -> None
    loss: Optional[Callable] = None               # (probs, logits, targets) -> [B, T, Y]
    clue: str = ""       # how diffmem's output led to this difference
    clear: str = ""      # did diffmem's message alone point at the cause: yes / partly / no


@contextlib.contextmanager
def _replaced(owner, attr, make):
    """``owner.attr = make(current owner.attr)`` for the duration; wrapping the current value
    lets patches on the same method compose in any order."""
    old = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    setattr(owner, attr, make(old))
    try:
        yield
    finally:
        setattr(owner, attr, old)


def _ntm():
    import ntm.head
    import ntm.memory
    import ntm.ntm
    return ntm


# ---------------------------------------------------------------- the patches

def _init_read_dtype(model):
    # NTM keeps its initial reads twice: as buffers ``read{i}_bias`` (which .to(dtype)
    # converts) and in the plain list ``init_r`` (which it does not), and reads the list.
    net = model.ntm
    net.init_r = [getattr(net, f"read{i}_bias") for i in range(len(net.init_r))]


def _add_tanh():
    head = _ntm().head

    def make(split_cols):
        def patched(mat, lengths):
            cols = split_cols(mat, lengths)
            if len(lengths) == 7:   # a write head's [k, beta, g, s, gamma, e, a]
                cols[6] = torch.tanh(cols[6])
            return cols
        return patched
    return _replaced(head, "_split_cols", make)


def _init_weights_model(model):
    # A learned previous weight for step 0, loaded by the adapter from init.*_logits.
    for h in model.ntm.heads:
        h.init_logits = torch.nn.Parameter(torch.zeros(1, h.N, dtype=h.memory.mem_bias.dtype,
                                                       device=h.memory.mem_bias.device))


def _init_weights():
    head = _ntm().head

    def make(_old):
        def create_new_state(self, batch_size):
            return torch.softmax(self.init_logits, dim=-1).repeat(batch_size, 1)
        return create_new_state
    stack = contextlib.ExitStack()
    stack.enter_context(_replaced(head.NTMReadHead, "create_new_state", make))
    stack.enter_context(_replaced(head.NTMWriteHead, "create_new_state", make))
    return stack


def _shift_direction():
    # F.conv1d is a cross-correlation: out[i] = s0 w[i-1] + s1 w[i] + s2 w[i+1], so the
    # weight of shift -1 (s0) moves focus from row i-1 to row i, i.e. by +1.
    def make(shift):
        def patched(self, wg, s):
            return shift(self, wg, s.flip(-1))
        return patched
    return _replaced(_ntm().memory.NTMMemory, "_shift", make)


def _shift_dtype():
    # _shift builds its result with torch.zeros(size): the default dtype (float32) and
    # device, whatever the weights are; run it with the weights' dtype as the default.
    def make(shift):
        def patched(self, wg, s):
            old = torch.get_default_dtype()
            torch.set_default_dtype(wg.dtype)
            try:
                with torch.device(wg.device):
                    return shift(self, wg, s)
            finally:
                torch.set_default_dtype(old)
        return patched
    return _replaced(_ntm().memory.NTMMemory, "_shift", make)


def _exact_softplus():
    # F.softplus returns z itself above its threshold 20: off by log1p(e^-z) ~ 2e-9.
    shim = types.SimpleNamespace(**{k: getattr(F, k) for k in dir(F) if not k.startswith("__")})
    shim.softplus = lambda z: torch.logaddexp(z, torch.zeros((), dtype=z.dtype,
                                                             device=z.device))
    return _replaced(_ntm().head, "F", lambda _old: shim)


def _cosine_delta():
    def make(_old):
        def _similarity(self, k, beta):
            k = k.view(self.batch_size, 1, -1)

            def norm(v):
                return torch.sqrt((v * v).sum(-1) + DELTA)
            K = (self.memory * k).sum(-1) / (norm(k) * norm(self.memory))
            return torch.softmax(beta * K, dim=1)
        return _similarity
    return _replaced(_ntm().memory.NTMMemory, "_similarity", make)


def _sharpen_log():
    def make(_old):
        def _sharpen(self, w_shifted, gamma):
            return torch.softmax(gamma * torch.log(w_shifted + EPS), dim=1)
        return _sharpen
    return _replaced(_ntm().memory.NTMMemory, "_sharpen", make)


def _write_then_read(model):
    heads = list(model.ntm.heads)
    model.ntm.heads = torch.nn.ModuleList([h for h in heads if not h.is_read_head()]
                                          + [h for h in heads if h.is_read_head()])


def _learned_init(model):
    memory, net = model.memory, model.ntm
    mem_bias = memory.mem_bias
    del memory._buffers["mem_bias"]
    memory.mem_bias = torch.nn.Parameter(mem_bias.detach().clone())
    net.init_r = [torch.nn.Parameter(r.detach().clone()) for r in net.init_r]


def _loss_with_logits(probs, logits, targets):
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none")


PATCHES = (
    Patch("init_read_dtype",
          "the initial reads stay float32 after .to(float64): NTM.init_r is a plain list that "
          ".to() does not convert",
          on_model=_init_read_dtype, clear="yes",
          clue="t=0 stage 1 with nothing before it leaves the step-0 inputs, x_0 and init.read; "
               "the evidence line at the divergence gives an error below float32's rounding "
               "there yet far above float64's: 'one value in lower precision'. The input that "
               "can be float32 is init.read"),
    Patch("add_tanh",
          "the write head's add vector is the raw interface slice; NTM.md: a = tanh(add^)",
          during_run=_add_tanh, clear="yes",
          clue="t=0 stage 3 write.add with the interface (stage 2) matched: the add activation"),
    Patch("init_weights",
          "every head's previous weight at step 0 is all zeros; NTM.md: "
          "softmax(init.write_logits), softmax(init.read_logits)",
          during_run=_init_weights, on_model=_init_weights_model, clear="yes",
          clue="t=0 stage 5 write.w_gated with w_content and the gate matched: "
               "w_gated = g w_content + (1 - g) w_prev leaves w_prev, the initial weight"),
    Patch("shift_dtype",
          "_shift builds its result with torch.zeros(size): float32 (and on the CPU) whatever "
          "the weights' dtype and device",
          during_run=_shift_dtype, clear="yes",
          clue="t=0 stage 7 write.weight, compared before it and matched: stages 1-5, and "
               "'stage 6 not compared': trace/write.w_shifted came back float32 (its own "
               "message: 'expected dtype float64 from a float64 backend, got float32'): the "
               "shift builds a float32 buffer"),
    Patch("shift_direction",
          "the shift convolution (F.conv1d, a cross-correlation) moves focus the other way: "
          "the weight of shift -1 moves it by +1",
          during_run=_shift_direction, clear="yes",
          clue="t=0 stage 6 write.w_shifted with w_gated matched: the circular convolution; the "
               "N=2 cases, where shifts -1 and +1 land on the same row, get past it: the "
               "direction"),
    Patch("write_then_read",
          "EncapsulatedNTM runs the read head before the write head, so reads address "
          "Mem_{t-1}; NTM.md: Mem_t, after the write",
          on_model=_write_then_read, clear="yes",
          clue="t=0 stage 10 read.w_content with the memory after the write (stage 8) and the "
               "read key and beta (stage 9) matched: the read head addressed another memory"),
    Patch("exact_softplus",
          "F.softplus returns z unchanged above 20 (beta, gamma off by ~2e-9 relative); "
          "NTM.md: softplus(z) = max(z,0) + log1p(exp(-|z|))",
          during_run=_exact_softplus, clear="yes",
          clue="the first divergence is t=10 stage 4 write.w_content, on sharp cases only, and "
               "its error is 'below float32 rounding yet far above float64's: a small "
               "approximation (a threshold, an epsilon)'; the suspect line names "
               "trace/write.beta (stage 3) at t=0, 3.3e5 times float64 rounding though within "
               "its bound: beta = softplus(beta^), and F.softplus's threshold at 20"),
    Patch("learned_init",
          "the initial memory and reads are buffers: no gradient for init.memory, init.read",
          on_model=_learned_init, clear="yes",
          clue="forward matched; only grads/init.memory and grads/init.read differ, and got is "
               "0: pytorch-ntm does not learn them"),
    Patch("loss_with_logits",
          "train.py's loss is nn.BCELoss on the sigmoid outputs (log clamped at -100); NTM.md: "
          "softplus(y) - z*y on the logits",
          loss=_loss_with_logits, clear="yes",
          clue="ntm-copy-lstm-extreme: 'the trace and logits matched at every step; the loss "
               "from them differs': the loss formula, on saturated logits"),
    Patch("sharpen_log",
          "sharpening is w^gamma / (sum + 1e-16); NTM.md: softmax(gamma * log(w + 1e-16))",
          during_run=_sharpen_log, clear="no: within float64 rounding",
          clue="no longer a difference diffmem reports, and rightly: the 1e-16 outside the "
               "log changes the normaliser by a relative 1e-16, so it shows only in gradients "
               "of the initial weight logits that cancel to 1e-12..1e-24 beside gradients of "
               "order 1 to 1e4, within float64 rounding of the whole gradient, which is what "
               "the float64 bound measures them against (it used to flag them against their "
               "own tiny scale, ratio 1.4 to 6e10, and a correct implementation of NTM.md's "
               "own (w + EPS)^gamma form with them). Kept as a patch for exactness"),
    Patch("cosine_delta",
          "F.cosine_similarity(Mem + 1e-16, k + 1e-16) clamps the norms at 1e-8; NTM.md: "
          "norm(v) = sqrt(sum v^2 + 1e-16)",
          during_run=_cosine_delta, clear="partly",
          clue="only ntm-copy-lstm-zero-memory-sharp fails: t=0 stage 10 read.w_content with "
               "key, beta and memory matched; the case's name (zero memory rows) points at the "
               "cosine's epsilon, the line alone names w_content"),
)
NAMES = tuple(p.name for p in PATCHES)
ENV = "DIFFMEM_PYNTM_PATCHES"


def select(spec) -> tuple:
    """'all', 'none', a count k (the first k), or comma-separated names -> patches, in
    ``PATCHES`` order (``examples.patch_selection``)."""
    return select_patches(spec, PATCHES, ENV)
