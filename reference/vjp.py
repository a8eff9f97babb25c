"""Hand-written VJPs for the reference's hot named operations: speed, not semantics.

autograd records every numpy call as a graph node and spends tens of microseconds per
node, forward and backward; an NTM step is ~170 such calls.  ``@with_vjp(vjp)`` turns
a named operation into one node.  Its *value* is still computed by the plain
``autograd.numpy`` body under the decorator (unchanged code, so the same numbers); only
its gradient comes from ``vjp``, written beside the operation with its derivation.

``op.composed`` is that plain body.  Calling it under autograd differentiates the
composition the old way, which is what tests/models/ntm/test_ref_primitives.py compares
every hand-written VJP against (and against finite differences).
"""

from autograd.extend import defvjp_argnums, primitive


def with_vjp(vjp):
    """Decorator: the function becomes an autograd primitive whose VJP is ``vjp``.

    ``vjp(g, ans, *args, **kwargs)`` returns one gradient per positional argument
    (``None`` for arguments that are not differentiable, such as ``shifts``).
    """
    def decorate(composed):
        op = primitive(composed)

        def vjp_maker(argnums, ans, args, kwargs):
            def vjp_of(g):
                grads = vjp(g, ans, *args, **kwargs)
                return [grads[i] for i in argnums]
            return vjp_of

        defvjp_argnums(op, vjp_maker)
        op.composed = composed
        return op
    return decorate
