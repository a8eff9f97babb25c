"""The ops table ``xp`` that ``BatchedNTM`` runs on, for JAX arrays.

Each entry is one array operation under the name ``BatchedNTM`` uses; everything else
(``@``, ``.mT``, indexing, ``reshape``) is shared array syntax.  Pure functions only,
so that a step traces cleanly under ``jit``, ``lax.scan`` and ``grad``.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from diffmem.backends import fused
from diffmem.backends.rotation import rotation_offsets


def _custom_vjp(fwd, bwd):
    """A ``backends/fused.py`` pair as one function with a hand-written VJP (reverse
    mode only)."""
    @jax.custom_vjp
    def f(*args):
        return fwd(JaxOps, *args)[0]

    f.defvjp(lambda *args: fwd(JaxOps, *args),
             lambda residuals, g: tuple(bwd(JaxOps, residuals, g)))
    return f


class JaxOps:
    @staticmethod
    def index_array(a):
        # A numpy array, not a device array: under jit it is a compile-time constant and
        # the gather's indices are baked into the program.
        return np.asarray(a, dtype=np.int32)

    exp = staticmethod(jnp.exp)
    log = staticmethod(jnp.log)
    sqrt = staticmethod(jnp.sqrt)
    tanh = staticmethod(jnp.tanh)
    sigmoid = staticmethod(jax.nn.sigmoid)

    @staticmethod
    def softplus(z):
        # Exact stable softplus, log(1 + e^z) = logaddexp(z, 0) (NTM.md's stable form).
        return jnp.logaddexp(z, 0.0)

    @staticmethod
    def softmax(z, axis=-1):
        return _softmax(z, axis)

    @staticmethod
    def take_last(w, idx):
        """w[..., idx] for a static index array idx [S, N], gathered along the last axis.

        For the circular shift (every row of idx a rotation) the rows are built as static
        rolls: the same values, but XLA fuses them and their gradient, where a gather's
        gradient is a scatter-add, slow on CPU.  Anything else is a plain gather.
        """
        offsets = rotation_offsets(np.asarray(idx)) if w.shape[-1] == np.shape(idx)[-1] else None
        if offsets is None:
            return w[..., idx]
        return jnp.stack([jnp.roll(w, s, axis=-1) for s in offsets], axis=-2)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return jnp.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def max(x, axis=None, keepdims=False):
        return jnp.max(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def prod(x, axis):
        # Plain products over the (small, static) axis, the same arithmetic as the torch
        # table and the reference's loop over write heads (no division in the gradient).
        axis = axis % x.ndim
        out = jax.lax.index_in_dim(x, 0, axis, keepdims=False)
        for i in range(1, x.shape[axis]):
            out = out * jax.lax.index_in_dim(x, i, axis, keepdims=False)
        return out

    @staticmethod
    def concat(xs, axis=0):
        return jnp.concatenate(list(xs), axis=axis)

    stop_gradient = staticmethod(jax.lax.stop_gradient)

    @staticmethod
    def broadcast_to(x, shape):
        return jnp.broadcast_to(x, tuple(shape))

    @staticmethod
    def zeros_like_shape(ref, shape):
        return jnp.zeros(tuple(shape), dtype=ref.dtype)

    # For the stack families (models/stack, models/stackrnn): selection with the
    # gradient routed to the selected branch only (a and b may be Python scalars),
    # cumulative sums over rows, a stable logsumexp (gradient softmax), and the
    # tie-splitting maximum / minimum that the stacks' tie rule must not use (its bug
    # uses them).
    where = staticmethod(jnp.where)

    @staticmethod
    def logsumexp(z, axis=-1):
        return jax.nn.logsumexp(z, axis=axis)

    @staticmethod
    def cumsum(x, axis):
        return jnp.cumsum(x, axis=axis)

    @staticmethod
    def flip(x, axis):
        return jnp.flip(x, axis=axis)

    maximum = staticmethod(jnp.maximum)
    minimum = staticmethod(jnp.minimum)

    # For the DNC (models/dnc): the free list, a stable ascending sort whose permutation
    # is a constant (integer indices: no gradient), a gather along an axis (its gradient
    # a scatter-add), and running products.  ``cumprod`` is differentiated through its
    # scan of multiplications (no division: finite and exact at a factor of exactly 0);
    # ``cumprod_dividing`` is the gradient TF's and Theano's cumprod had,
    # reverse-cumsum(g * out) / x, NaN at a factor of 0 (a DNC bug uses it).
    @staticmethod
    def argsort(x, axis=-1):
        """Indices that sort ``x`` ascending along ``axis``; equal values keep increasing
        index order (stable=True)."""
        return jnp.argsort(x, axis=axis, stable=True)

    @staticmethod
    def take_along_axis(x, idx, axis=-1):
        """out[..., j, ...] = x[..., idx[..., j, ...], ...] along ``axis``."""
        return jnp.take_along_axis(x, idx, axis=axis)

    @staticmethod
    def cumprod(x, axis):
        return jnp.cumprod(x, axis=axis)

    @staticmethod
    def cumprod_dividing(x, axis):
        return _cumprod_dividing(x, axis)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _cumprod_dividing(x, axis):
    """cumprod with the dividing gradient (see ``JaxOps.cumprod_dividing``)."""
    return jnp.cumprod(x, axis=axis)


def _cumprod_dividing_fwd(x, axis):
    out = jnp.cumprod(x, axis=axis)
    return out, (x, out)


def _cumprod_dividing_bwd(axis, residuals, g):
    x, out = residuals
    suffix = jnp.flip(jnp.cumsum(jnp.flip(g * out, axis), axis=axis), axis)
    return (suffix / x,)


_cumprod_dividing.defvjp(_cumprod_dividing_fwd, _cumprod_dividing_bwd)


class FusedJaxOps(JaxOps):
    """``JaxOps`` plus the hand-written gradients of backends/fused.py (opt-in:
    ``BatchedNTM(FusedJaxOps(), cfg)``).  Not the default: on CPU the compiled step was
    ~1.7x slower with them than XLA's own fusion of the op-by-op derivative (batch 32
    and 256, copy config, measured 2026-11-25); kept, tested, for GPU experiments."""
    write_memory = staticmethod(_custom_vjp(fused.write_memory_fwd, fused.write_memory_bwd))
    cosine_similarity = staticmethod(_custom_vjp(fused.cosine_similarity_fwd,
                                                 fused.cosine_similarity_bwd))
    read_memory = staticmethod(_custom_vjp(fused.read_memory_fwd, fused.read_memory_bwd))


xp = JaxOps()


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _softmax(z, axis):
    """exp(z - max) / sum, with the weight exactly 1 where the sum is its own term (every
    other exp underflowed or was absorbed): what correctly rounded division gives.  XLA's
    vectorised float32 division on CPU returns e / e = 1 - 2^-24 there, and a DNC freeing
    by that weight leaves usage 2^-24 instead of 0 (a tie split by an ulp).  The VJP is
    written from the weights, w (g - sum(w g)) (the reference's form), so a saturated
    weight of exactly 1 passes back exactly what the reference does, not an ulp times the
    content strength."""
    return _softmax_fwd(z, axis)[0]


def _softmax_fwd(z, axis):
    e = jnp.exp(z - jnp.max(z, axis=axis, keepdims=True))
    s = jnp.sum(e, axis=axis, keepdims=True)
    w = jnp.where(e == s, jnp.ones_like(e), e / s)
    return w, w


def _softmax_bwd(axis, w, g):
    return (w * (g - jnp.sum(w * g, axis=axis, keepdims=True)),)


_softmax.defvjp(_softmax_fwd, _softmax_bwd)
