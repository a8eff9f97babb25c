"""Controllers (NTM.md step 1): feedforward and LSTM, weights as [out, in]."""

import autograd.numpy as np

from .functions import linear, sigmoid


def feedforward(weight, bias, u):
    """c_t = tanh(Wc u_t + bc)."""
    return np.tanh(linear(weight, u, bias))


def lstm(weight, bias, u, h_prev, cell_prev):
    """z = Wc [u_t ; h_{t-1}] + bc, split i, f, g, o; returns (h_t, cell_t)."""
    z = linear(weight, np.concatenate([u, h_prev]), bias)
    H = h_prev.shape[0]
    i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
    cell = f * cell_prev + i * g
    return o * np.tanh(cell), cell
