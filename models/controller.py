"""What every family with NTM.md's controller and output shares (NTM, stack, queue,
deque): the controller, feedforward ``tanh(W u + b)`` or an LSTM with gates in the order
i, f, g, o, its parameter shapes, and the output ``W [c ; reads] + b``.

The batched functions are written once against an ops table ``xp`` and a ``matmul`` (how
a precision mode forms matrix products); the reference's controller is
``diffmem.reference.controller``.
"""


def controller_shapes(kind, U, H) -> dict:
    """``controller.weight`` / ``controller.bias`` shapes for input width U, width H
    (matrices [out, in]; the LSTM's four gates on [u ; h_{t-1}])."""
    if kind == "lstm":
        return {"controller.weight": (4 * H, U + H), "controller.bias": (4 * H,)}
    return {"controller.weight": (H, U), "controller.bias": (H,)}


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


def output(xp, matmul, params, c, reads):
    """y_t = W_y [c_t ; reads flattened] + b_y: a read reaches the output in its own step."""
    flat = reads.reshape((reads.shape[0], -1))
    return matmul(xp.concat([c, flat], axis=-1), params["output.weight"].mT) \
        + params["output.bias"]
