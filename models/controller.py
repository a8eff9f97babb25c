"""The batched controller every family with an NTM.md controller shares (NTM, stack,
queue, deque): feedforward ``tanh(W u + b)`` or an LSTM with gates in the order i, f, g, o.

Written once against an ops table ``xp`` and a ``matmul`` (how a precision mode forms
matrix products), for the batched forms; the reference's is
``diffmem.reference.controller``.
"""


def controller(xp, matmul, kind, H, params, u, h_prev, cell_prev):
    """u [B, U] -> (c_t [B, H], cell_t [B, H] or None for the feedforward controller)."""
    if kind == "feedforward":
        return xp.tanh(matmul(u, params["controller.weight"].mT) + params["controller.bias"]), None
    z = matmul(xp.concat([u, h_prev], axis=-1), params["controller.weight"].mT) \
        + params["controller.bias"]
    gates = xp.sigmoid(z)   # one call for i, f, o (its g slice is unused): fewer ops
    i, f, o = gates[:, :H], gates[:, H:2 * H], gates[:, 3 * H:]
    g = xp.tanh(z[:, 2 * H:3 * H])
    cell = f * cell_prev + i * g
    return o * xp.tanh(cell), cell
