"""Head activations (NTM.md steps 2-3): interface fields -> head parameters.

``activate_head`` is the definition: NTM.md's activation applied to each raw field of
``layout.split_interface``.  ``activate_heads`` computes the same values one autograd
node per field (``head_field``), instead of a slice, a reshape and an activation
each: the interface split is ~40% of a step's graph otherwise (see vjp.py).
"""

import functools

import autograd.numpy as np
import numpy as onp   # in the VJPs: they are never differentiated themselves

from diffmem.reference.functions import sigmoid_vjp, softmax_vjp, softplus_vjp, sigmoid, softmax, softplus
from .layout import head_fields, interface_size, split_interface
from diffmem.reference.vjp import with_vjp


def _one_plus_softplus(z):
    return 1.0 + softplus(z)


ACTIVATIONS = {
    "key": lambda z: z,              # no activation
    "beta": softplus,                # >= 0
    "gate": sigmoid,                 # in (0, 1)
    "shift": softmax,                # over the S shifts
    "gamma": _one_plus_softplus,     # >= 1
    "erase": sigmoid,                # in (0, 1)
    "add": np.tanh,                  # in (-1, 1)
}


def activate_head(raw):
    """Apply NTM.md's activation to each raw field of one kind of heads."""
    return {name: ACTIVATIONS[name](z) for name, z in raw.items()}


# d activation / d raw, as g -> g_raw (each VJP above needs only the raw z)
ACTIVATION_VJPS = {
    "key": lambda g, z: g,
    "beta": lambda g, z: softplus_vjp(g, None, z)[0],
    "gate": lambda g, z: sigmoid_vjp(g, None, z)[0],
    "shift": lambda g, z: softmax_vjp(g, None, z)[0],
    "gamma": lambda g, z: softplus_vjp(g, None, z)[0],
    "erase": lambda g, z: sigmoid_vjp(g, None, z)[0],
    "add": lambda g, z: g / onp.cosh(z) ** 2,          # autograd's tanh VJP
}


@functools.lru_cache(maxsize=None)
def field_positions(cfg):
    """(write, read): field -> positions in the interface, shaped like the raw field
    (``split_interface`` applied to the indices 0..I-1, so the layout lives in one place)."""
    return split_interface(onp.arange(interface_size(cfg)), cfg)


def _head_field_vjp(g, y, xi, cfg, kind, name):
    # the activation's VJP, put back at the field's positions in the interface
    positions = field_positions(cfg)[kind == "read"][name]
    g_xi = onp.zeros_like(xi)
    g_xi[positions] = ACTIVATION_VJPS[name](g, xi[positions])
    return g_xi, None, None, None


@with_vjp(_head_field_vjp)
def head_field(xi, cfg, kind, name):
    """activate_head(split_interface(xi, cfg)[kind])[name] as one autograd node."""
    return ACTIVATIONS[name](xi[field_positions(cfg)[kind == "read"][name]])


def activate_heads(xi, cfg):
    """(write, read): each a dict field -> activated value, from the interface xi."""
    return tuple({name: head_field(xi, cfg, kind, name) for name, _ in head_fields(cfg, kind)}
                 for kind in ("write", "read"))
