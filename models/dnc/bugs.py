"""A catalogue of realistic DNC kernel bugs (DNC.md, "Kernel-bug catalogue"): the
harness's own test that it catches them, and names each where it lives.

Each bug is a plain subclass of ``BatchedDNC`` overriding one method (one that moves a
stage within the step also overrides ``step``), with ``STAGES``:
the ``Stage`` values of ``layout`` where the harness must localise it (the first
diverging trace entry, earliest step first, then stage order), or ``GRADIENT_ONLY``
(forward identical, gradients differ); and ``NEEDS``: case tags (cases.py) that expose
it.  The harness wraps a bug as a backend (the bundled PyTorch driver running it):
``diffmem check --family dnc --backend diffmem.models.dnc.bugs:unstable_tie_order``.

The five places where google-deepmind/dnc departs from the paper's Methods (DNC.md,
"Sources disagree") are each one bug here, so that a port of it fails with a line naming
the difference: ``strength_softplus``, ``cosine_deepmind_eps``, ``usage_floor_deepmind``,
``usage_stop_gradient`` and ``read_modes_deepmind_order``.
"""

from __future__ import annotations

from diffmem.models.family import GRADIENT_ONLY

from .batched import BatchedDNC
from .layout import (ACTIVATIONS, ALLOCATION, DIRECTIONS, LINK, READ_CONTENT, READ_WEIGHT,
                     USAGE, WRITE_CONTENT, WRITE_WEIGHT)

# deepmind/dnc's constants (addressing.py: _EPSILON in the usage floor and the cosine).
DEEPMIND_EPSILON = 1e-6


def ties_to_higher_index(xp, usage):
    """An ascending sort whose ties go to the higher index: a stable sort of the reversed
    usages, its indices mapped back."""
    return (usage.shape[-1] - 1) - xp.argsort(xp.flip(usage, -1), -1)


class Bug(BatchedDNC):
    STAGES: tuple = ()
    NEEDS: tuple = ()
    # flip (a reversed sort), stop_gradient and the dividing cumprod: what the bugs use.
    OPS = BatchedDNC.OPS | {"flip", "stop_gradient", "cumprod_dividing"}


# ---------------------------------------------------------------- 3. activations

class StrengthSoftplus(Bug):
    """Read and write strengths softplus(z), not oneplus(z) = 1 + softplus(z) (deepmind/dnc's
    CosineWeights default, and pytorch-dnc's): beta may fall below 1."""
    STAGES = (ACTIVATIONS,)

    def strength(self, z):
        return self.xp.softplus(z)


# ---------------------------------------------------------------- 5. allocation

class UnstableTieOrder(Bug):
    """Usage ties broken towards the higher index (a descending stable sort read
    backwards; what ``torch.topk(largest=False)`` does on some GPUs): every case's step 0
    (an N-way tie at u = 0) allocates row N-1 instead of row 0."""
    STAGES = (ALLOCATION,)

    def free_list(self, usage):
        return ties_to_higher_index(self.xp, usage)


class ExclusiveProductInclusive(Bug):
    """a[phi_j] = (1 - u[phi_j]) PROD_{i<=j} u[phi_i]: the running product includes its own
    factor (the missing ``exclusive=True`` of a cumprod)."""
    STAGES = (ALLOCATION,)

    def exclusive_product(self, sorted_usage):
        return self.xp.cumprod(sorted_usage, axis=-1)


class FreeListNotInverted(Bug):
    """The sorted allocation scattered back by gathering with phi instead of phi^-1: right
    only where phi is its own inverse (step 0's identity), wrong at the zero state's
    t = 1, where phi = (1, 2, ..., N-1, 0)."""
    STAGES, NEEDS = (ALLOCATION,), ("zero-state",)

    def unsort(self, sorted_values, order):
        return self.xp.take_along_axis(sorted_values, order, axis=-1)


class SortGradientOtherTieOrder(Bug):
    """The sorted usages taken from a second sort that breaks ties the other way (e.g. the
    values of an unstable ``torch.sort(u)`` beside a stable argsort's free list): tied
    values are equal, so the forward pass is the reference's bit for bit, but the gradient
    goes through the other permutation: each tied row gets the other's terms."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("zero-state",)

    def sorted_usage(self, usage, order):
        return self.xp.take_along_axis(usage, ties_to_higher_index(self.xp, usage), axis=-1)


class UsageFloorDeepmind(Bug):
    """deepmind/dnc's u' = 1e-6 + (1 - 1e-6) u before the sort and the product ("not too
    small prior to cumprod"): a_t moves by ~1e-6 relative everywhere."""
    STAGES = (ALLOCATION,)

    def allocation(self, usage):
        return super().allocation(DEEPMIND_EPSILON + (1.0 - DEEPMIND_EPSILON) * usage)


class CumprodGradByDivision(Bug):
    """The exclusive product's gradient taken as product / factor (TF's and Theano's
    cumprod gradient): 0/0 = NaN wherever a usage is exactly 0, every step 0."""
    STAGES = (GRADIENT_ONLY,)

    def exclusive_product(self, sorted_usage):
        xp = self.xp
        one = xp.zeros_like_shape(sorted_usage, (sorted_usage.shape[0], 1)) + 1.0
        return xp.concat([one, xp.cumprod_dividing(sorted_usage[:, :-1], axis=-1)], axis=-1)


# ---------------------------------------------------------------- 4. usage

class UsageStopGradient(Bug):
    """No gradient into the usage through the previous write weights (deepmind/dnc's
    ``stop_gradient`` in ``_usage_after_write``); the paper states none."""
    STAGES, NEEDS = (GRADIENT_ONLY,), ("init",)

    def usage(self, usage_prev, write_weight_prev, retention):
        return super().usage(usage_prev, self.xp.stop_gradient(write_weight_prev), retention)


class UsageFromThisStepsWrite(Bug):
    """Usage updated at the end of the step, from this step's write weights and retention,
    u_t = (u_{t-1} + ww_t - u_{t-1} ww_t) psi_t, and the next step's allocation taken from
    the usage so carried: the free gates act one step late.  (Read literally, "this
    step's usage from this step's write weights" is circular -- the write weights need the
    allocation, which needs the usage; this is the form a kernel that fuses the usage
    update into the end of its step computes.)  Allocation then uses the carried usage
    unchanged; the trace's ``usage`` is that carried value.  It moves a stage within the
    step, so it overrides ``step`` as well as ``usage``."""
    STAGES = (USAGE,)

    def usage(self, usage_prev, write_weight_prev, retention):
        return usage_prev

    def step(self, params, state, x):
        next_state, record = super().step(params, state, x)
        usage = BatchedDNC.usage(self, state["usage"], next_state["write_weight"],
                                 record["retention"])
        return dict(next_state, usage=usage), record


# ---------------------------------------------------------------- 6. / 12. content

class CosineDeepmindEps(Bug):
    """deepmind/dnc's cosine, dot / (sqrt(SUM k^2 + 1e-6) sqrt(SUM M^2 + 1e-6) + 1e-6),
    for NTM.md's sqrt(SUM + 1e-16) in each norm.  Seen first in the read content at t = 0
    where the initial memory is zero (every cosine 0 either way before the first write)."""
    STAGES = (WRITE_CONTENT, READ_CONTENT)

    def cosine_similarity(self, key, memory):
        xp, eps = self.xp, DEEPMIND_EPSILON
        norm_k = xp.sqrt(xp.sum(key * key, axis=-1) + eps)
        norm_m = xp.sqrt(xp.sum(memory * memory, axis=-1) + eps)
        return self.row_dot(key, memory) / (norm_k[..., :, None] * norm_m[..., None, :] + eps)


# ---------------------------------------------------------------- 7. write weighting

class WriteGateOnAllocationOnly(Bug):
    """ww = g^w g^a a + (1 - g^a) cw: the write gate multiplies the allocation term only (a
    parenthesis slip)."""
    STAGES = (WRITE_WEIGHT,)

    def write_weights(self, allocation, content, allocation_gate, write_gate):
        ga, gw = allocation_gate[..., None], write_gate[..., None]
        return gw * ga * allocation[:, None, :] + (1.0 - ga) * content


# ---------------------------------------------------------------- 9. link

class LinkDiagonalKept(Bug):
    """L[i, i] not zeroed: the update formula evaluated on the diagonal too (a row's link
    to itself grows from the step after its first write)."""
    STAGES = (LINK,)

    def link(self, link_prev, write_weight, precedence_prev):
        ww = write_weight[:, 0]
        wi, wj = ww[:, :, None], ww[:, None, :]
        return (1.0 - wi - wj) * link_prev + wi * precedence_prev[:, None, :]


class PrecedenceBeforeLink(Bug):
    """The links built from this step's precedence p_t instead of p_{t-1} (the precedence
    updated first): at t = 0, L[i, j] = ww[i] ww[j] instead of 0."""
    STAGES = (LINK,)

    def link(self, link_prev, write_weight, precedence_prev):
        return super().link(link_prev, write_weight,
                            self.precedence(precedence_prev, write_weight))


# ---------------------------------------------------------------- 11. directions

class DirectionsSwapped(Bug):
    """fw = L^T wr and bw = L wr: the forward and backward weightings exchanged."""
    STAGES = (DIRECTIONS,)

    def directions(self, link, read_weight_prev):
        forward, backward = super().directions(link, read_weight_prev)
        return backward, forward


# ---------------------------------------------------------------- 13. read weighting

class ReadModesDeepmindOrder(Bug):
    """Read modes taken as (backward, forward, content), deepmind/dnc's and pytorch-dnc's
    order, for the paper's (backward, content, forward)."""
    STAGES = (READ_WEIGHT,)

    def read_weights(self, mode, backward, content, forward):
        return mode[..., 0:1] * backward + mode[..., 1:2] * forward + mode[..., 2:3] * content


BUGS = (StrengthSoftplus, UsageStopGradient, UsageFromThisStepsWrite, UnstableTieOrder, ExclusiveProductInclusive,
        FreeListNotInverted, SortGradientOtherTieOrder, UsageFloorDeepmind,
        CumprodGradByDivision, CosineDeepmindEps,
        WriteGateOnAllocationOnly, LinkDiagonalKept, PrecedenceBeforeLink, DirectionsSwapped,
        ReadModesDeepmindOrder)


def bugs() -> dict:
    """name -> bug class, in stage order."""
    return {cls.__name__: cls for cls in BUGS}
