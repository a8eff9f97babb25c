"""The ops table ``xp`` that ``BatchedNTM`` runs on, for PyTorch tensors.

Each entry is one array operation under the name ``BatchedNTM`` uses; everything else
(``@``, ``.mT``, indexing, ``reshape``) is shared tensor syntax.  Made per device,
because index arrays and fresh zeros must live where the parameters live.
"""

import torch

from diffmem.backends import fused
from diffmem.backends.rotation import rotation_offsets


def _autograd_node(fwd, bwd):
    """One autograd node for a ``backends/fused.py`` pair: the forward runs without
    recording its ops, the backward is the hand-written one (fewer [B, N, M] passes
    and far fewer small ops to dispatch than differentiating op by op)."""
    class Fused(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            out, residuals = fwd(TorchOps, *args)
            ctx.save_for_backward(*residuals)
            return out

        @staticmethod
        def backward(ctx, g):
            return bwd(TorchOps, ctx.saved_tensors, g)

    Fused.__name__ = fwd.__name__.replace("_fwd", "")
    return Fused.apply


class TorchOps:
    def __init__(self, device="cpu"):
        self.device = torch.device(device)
        self._zeros = {}
        self._rotations = {}

    def index_array(self, a):
        index = torch.as_tensor(a, dtype=torch.long, device=self.device)
        # Remember circular-shift index arrays (see take_last) by the tensor's identity.
        self._rotations[id(index)] = (index, rotation_offsets(a))
        return index

    exp = staticmethod(torch.exp)
    log = staticmethod(torch.log)
    sqrt = staticmethod(torch.sqrt)
    tanh = staticmethod(torch.tanh)
    sigmoid = staticmethod(torch.sigmoid)

    def softplus(self, z):
        # Exact stable softplus, log(1 + e^z) = logaddexp(z, 0), with gradient sigmoid(z)
        # everywhere.  Not torch.nn.functional.softplus: it returns z itself above a
        # threshold (20), an approximation the reference does not make.
        return torch.logaddexp(z, self._zero(z))

    def _zero(self, like):
        # One cached 0-d zero per (dtype, device): no allocation per call.
        key = (like.dtype, like.device)
        if key not in self._zeros:
            self._zeros[key] = torch.zeros((), dtype=like.dtype, device=like.device)
        return self._zeros[key]

    @staticmethod
    def softmax(z, axis=-1):
        # One fused kernel forward and backward (exp(z - max) / sum, the stable form):
        # several times fewer tensor operations than composing it, the main cost at
        # small batch sizes.
        return torch.softmax(z, dim=axis)

    def take_last(self, w, idx):
        """w[..., idx]: gather along the last axis with an index array [S, N].

        For the circular shift (every row of idx a rotation) it is a stack of rolls: the
        same values, and the gradient is a roll, where indexing's gradient is an
        accumulating index_put (7% of a batch-256 step on CPU in the profile).
        """
        known = self._rotations.get(id(idx))
        offsets = known[1] if known is not None and known[0] is idx else None
        if offsets is None or w.shape[-1] != idx.shape[-1]:
            return w[..., idx]
        return torch.stack([torch.roll(w, s, dims=-1) for s in offsets], dim=-2)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        if axis is None:
            return torch.sum(x)
        return torch.sum(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        if axis is None:
            return torch.amax(x)
        return torch.amax(x, dim=axis, keepdim=keepdims)

    @staticmethod
    def prod(x, axis):
        # Plain products over the (small, static) axis: torch.prod's backward divides by
        # each factor, which loses accuracy near 0 and needs a slow path at exactly 0
        # (a one-hot weight meeting an erase of 1), the reference's own reason to loop.
        factors = torch.unbind(x, dim=axis)
        out = factors[0]
        for f in factors[1:]:
            out = out * f
        return out

    @staticmethod
    def concat(xs, axis=0):
        return torch.cat(list(xs), dim=axis)

    @staticmethod
    def stop_gradient(x):
        return x.detach()

    @staticmethod
    def broadcast_to(x, shape):
        return torch.broadcast_to(x, tuple(shape))

    @staticmethod
    def zeros_like_shape(ref, shape):
        return torch.zeros(tuple(shape), dtype=ref.dtype, device=ref.device)

    # For the stack families (models/stack, models/stackrnn): selection with the
    # gradient routed to the selected branch only (a and b may be Python scalars),
    # cumulative sums over rows, a stable logsumexp (gradient softmax), and the
    # tie-splitting maximum / minimum that the stacks' tie rule must not use (its bug
    # uses them).
    @staticmethod
    def where(cond, a, b):
        return torch.where(cond, a, b)

    @staticmethod
    def logsumexp(z, axis=-1):
        return torch.logsumexp(z, dim=axis)

    @staticmethod
    def cumsum(x, axis):
        return torch.cumsum(x, dim=axis)

    @staticmethod
    def flip(x, axis):
        return torch.flip(x, dims=(axis,))

    maximum = staticmethod(torch.maximum)
    minimum = staticmethod(torch.minimum)

    # For the DNC (models/dnc): the free list, a stable ascending sort whose permutation
    # is a constant (integer indices: no gradient), a gather along an axis (its gradient
    # a scatter-add), and running products.  ``cumprod``'s backward is torch's own, which
    # handles a factor of exactly 0 without dividing by it (the gradient stays finite and
    # exact there); ``cumprod_dividing`` is the gradient TF's and Theano's cumprod had,
    # reverse-cumsum(g * out) / x, NaN at a factor of 0 (a DNC bug uses it).
    @staticmethod
    def argsort(x, axis=-1):
        """Indices that sort ``x`` ascending along ``axis``; equal values keep increasing
        index order (torch.sort(stable=True); never topk, whose tie order is unspecified)."""
        return torch.sort(x, dim=axis, stable=True).indices

    @staticmethod
    def take_along_axis(x, idx, axis=-1):
        """out[..., j, ...] = x[..., idx[..., j, ...], ...] along ``axis``."""
        return torch.gather(x, axis, idx)

    @staticmethod
    def cumprod(x, axis):
        return torch.cumprod(x, dim=axis)

    @staticmethod
    def cumprod_dividing(x, axis):
        return _CumprodDividing.apply(x, axis)


class _CumprodDividing(torch.autograd.Function):
    """cumprod with the dividing gradient (see ``TorchOps.cumprod_dividing``)."""
    @staticmethod
    def forward(ctx, x, axis):
        out = torch.cumprod(x, dim=axis)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        axis = ctx.axis
        suffix = torch.flip(torch.cumsum(torch.flip(g * out, (axis,)), dim=axis), (axis,))
        return suffix / x, None


# The optional fused stages (BatchedNTM uses them when present; see backends/fused.py),
# assigned after the class because their math calls the table's own static entries.
TorchOps.write_memory = staticmethod(_autograd_node(fused.write_memory_fwd,
                                                    fused.write_memory_bwd))
TorchOps.cosine_similarity = staticmethod(_autograd_node(fused.cosine_similarity_fwd,
                                                         fused.cosine_similarity_bwd))
TorchOps.read_memory = staticmethod(_autograd_node(fused.read_memory_fwd, fused.read_memory_bwd))

