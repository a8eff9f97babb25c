"""The patches: each removes one difference between pytorch-dnc and dnc/1 (DNC.md).

A patch is small and touches pytorch-dnc only from the outside: it replaces or wraps one
method or module-level name of ``dnc.memory`` for the duration of a run (``during_run``),
or changes a freshly built model (``on_model``), or changes how the adapter drives the
model (``stepwise``: one ``forward`` call per step).  pytorch-dnc's files are never
edited.

``PATCHES`` is in the order the walkthrough found them (docs/pytorch-dnc.md): with the
first k applied, ``diffmem check`` points at the difference that patch k+1 removes.
Select them by name or by count (``select``): ``DIFFMEM_PYDNC_PATCHES=all``, ``none``,
``3`` (the first three) or ``oneplus_strengths,stable_sort``.
"""

from __future__ import annotations

import contextlib
import types
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from examples.patch_selection import select as select_patches

DELTA = 1e-16   # NTM.md's cosine (DNC.md step 5): inside each norm


@dataclass(frozen=True)
class Patch:
    name: str
    difference: str                               # what pytorch-dnc does, what dnc/1 says
    during_run: Optional[Callable] = None         # () -> context manager
    on_model: Optional[Callable] = None           # (DNC) -> None
    stepwise: bool = False                        # drive forward one step per call
    clue: str = ""       # how diffmem's output led to this difference
    clear: str = ""      # did diffmem's message alone point at the cause: yes / partly / no


@contextlib.contextmanager
def _replaced(owner, attr, make):
    """``owner.attr = make(current owner.attr)`` for the duration; wrapping the current
    value lets patches on the same name compose in any order."""
    old = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
    setattr(owner, attr, make(old))
    try:
        yield
    finally:
        setattr(owner, attr, old)


def _memory():
    import dnc.memory
    return dnc.memory


def _torch_shim(inner, **overrides):
    """A stand-in for the ``torch`` module that ``dnc/memory.py`` sees: ``inner``'s
    attributes, some replaced."""
    class Shim(types.ModuleType):
        def __getattr__(self, attr):
            return getattr(inner, attr)
    shim = Shim("torch")
    for name, fn in overrides.items():
        setattr(shim, name, fn)
    return shim


# ---------------------------------------------------------------- the patches

def _no_tanh():
    # memory.py calls torch.tanh on exactly three things: the read keys, the write key and
    # the write vector (the LSTM's own tanh runs inside torch).
    return _replaced(_memory(), "torch",
                     lambda inner: _torch_shim(inner, tanh=lambda v: v))


def _oneplus_strengths():
    # F.softplus is used only for the strengths; dnc/1: oneplus(z) = 1 + softplus(z) in
    # the exact form (F.softplus also returns z itself above its threshold 20).
    def make(inner):
        shim = types.SimpleNamespace(**{k: getattr(inner, k) for k in dir(inner)
                                        if not k.startswith("__")})
        shim.softplus = lambda z: 1 + torch.logaddexp(z, z.new_zeros(()))
        return shim
    return _replaced(_memory(), "F", make)


def _no_usage_floor():
    # allocate: usage = δ + (1 - δ) * usage, δ = 1e-6 (util's; θ keeps its own).
    return _replaced(_memory(), "δ", lambda _old: 0.0)


def _stable_sort():
    # torch.topk(largest=False) leaves the order of equal values unspecified; dnc/1 sorts
    # ascending and stably (equal usages in increasing row order).  allocate's second
    # topk inverts the permutation (distinct values): unchanged by a stable sort.
    def topk(inner):
        def stable(values, k, dim=-1, largest=True, sorted=True):
            order = inner.sort(values, dim=dim, descending=largest, stable=True).indices
            order = order.narrow(dim, 0, k)
            return values.gather(dim, order), order
        return stable
    return _replaced(_memory(), "torch",
                     lambda inner: _torch_shim(inner, topk=topk(inner)))


def _cosine_delta():
    # util.θ: dot / (|a| |b| + 1e-6); dnc/1 (NTM.md): dot / (norm(a) norm(b)),
    # norm(v) = sqrt(sum v^2 + 1e-16).
    def make(_old):
        def cosine(memory, keys):
            def norm(v):
                return torch.sqrt((v * v).sum(-1) + DELTA)
            dot = (memory[:, None, :, :] * keys[:, :, None, :]).sum(-1)   # [B, R, N]
            return dot / (norm(keys)[:, :, None] * norm(memory)[:, None, :])
        return cosine
    return _replaced(_memory(), "θ", make)


def _read_mode_order():
    # read_weightings takes modes as (backward, forward, content); dnc/1's interface gives
    # them as the paper's (backward, content, forward).
    def make(read_weightings):
        def patched(self, memory, content, link, modes, read_weights):
            return read_weightings(self, memory, content, link, modes[..., [0, 2, 1]],
                                   read_weights)
        return patched
    return _replaced(_memory().Memory, "read_weightings", make)


PATCHES = (
    Patch("no_tanh",
          "tanh on the read keys, the write key and the write vector; dnc/1 (the paper): "
          "raw interface slices",
          during_run=_no_tanh),
    Patch("oneplus_strengths",
          "strengths are F.softplus(z) (and z itself above 20); dnc/1 (the paper): "
          "oneplus(z) = 1 + softplus(z) >= 1",
          during_run=_oneplus_strengths),
    Patch("stable_sort",
          "the free list is torch.topk(largest=False), whose order among equal usages is "
          "unspecified; dnc/1: a stable ascending sort, ties to the lower row",
          during_run=_stable_sort),
    Patch("no_usage_floor",
          "allocate sorts and multiplies 1e-6 + (1 - 1e-6) u (deepmind/dnc's floor); "
          "dnc/1: u itself",
          during_run=_no_usage_floor),
    Patch("cosine_delta",
          "cosine similarity dot / (|a| |b| + 1e-6); dnc/1 (NTM.md): "
          "dot / (sqrt(|a|^2 + 1e-16) sqrt(|b|^2 + 1e-16))",
          during_run=_cosine_delta),
    Patch("read_mode_order",
          "read modes are read as (backward, forward, content); dnc/1 (the paper): "
          "(backward, content, forward)",
          during_run=_read_mode_order),
    Patch("feed_reads_back",
          "DNC.forward builds every step's controller input from the reads passed in hx "
          "(the initial ones) before its time loop: the controller never sees r_{t-1}; "
          "dnc/1 (the paper): chi_t = [x_t ; r_{t-1}]. The adapter calls forward once per "
          "step and carries the hx it returns",
          stepwise=True),
)
NAMES = tuple(p.name for p in PATCHES)
ENV = "DIFFMEM_PYDNC_PATCHES"


def select(spec) -> tuple:
    """'all', 'none', a count k (the first k), or comma-separated names -> patches, in
    ``PATCHES`` order (``examples.patch_selection``)."""
    return select_patches(spec, PATCHES, ENV)
