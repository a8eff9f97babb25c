"""Optimizers on dicts of numpy arrays: Graves' RMSProp with momentum, and Adam.

One numpy implementation for every engine, so the update rule is testable by hand and
its state saves into a model file as plain arrays (``state_arrays``/``load_state``).

RMSProp is the variant of Graves 2013 ("Generating Sequences With Recurrent Neural
Networks", eqs. 38-41) that the NTM paper trained with (section 4: momentum 0.9,
learning rate 1e-4, decay 0.95, gradient components clipped to [-10, 10]):

    eps = clip(grad, -10, 10)
    n   = decay * n + (1 - decay) * eps**2          running second moment
    g   = decay * g + (1 - decay) * eps             running mean
    D   = momentum * D - lr * eps / sqrt(n - g**2 + epsilon)
    w   = w + D

It divides by a running estimate of the gradient's *standard deviation* (n - g^2), not
its root mean square as in Hinton's RMSProp; epsilon = 1e-4 as in Graves 2013.
"""

import numpy as np

OPTIMIZERS = ("rmsprop", "adam")


class _Optimizer:
    slots = ()

    def __init__(self, params, lr, clip):
        if not (lr > 0):
            raise ValueError(f"lr: expected a positive learning rate, got {lr!r}")
        self.lr, self.clip = float(lr), clip
        self.state = {s: {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}
                      for s in self.slots}
        self.t = 0

    def clipped(self, grad):
        # Elementwise clipping of each gradient component (NTM paper, section 4).
        return np.clip(grad, -self.clip, self.clip) if self.clip else grad

    def step(self, params, grads):
        """New parameters after one update (the inputs are left unchanged)."""
        return self.commit(self.propose(params, grads))

    def propose(self, params, grads):
        """One update computed without changing the optimizer: (new params, state, t).
        ``commit`` makes it the optimizer's state, in one assignment, so an interrupt in
        between leaves the optimizer exactly as it was before the step."""
        state = {s: dict(d) for s, d in self.state.items()}
        t = self.t + 1
        new = {k: self.update(state, t, k, params[k], self.clipped(grads[k])) for k in params}
        return new, state, t

    def commit(self, proposal):
        new, state, t = proposal
        self.state, self.t = state, t
        return new

    # Saving: flat name -> array, plus the step count.
    def state_arrays(self):
        out = {f"{s}/{k}": v for s, d in self.state.items() for k, v in d.items()}
        out["t"] = np.asarray(self.t)
        return out

    def load_state(self, arrays):
        for s, d in self.state.items():
            for k in d:
                key = f"{s}/{k}"
                if key not in arrays:
                    raise ValueError(f"optimizer state: missing {key!r}")
                if arrays[key].shape != d[k].shape:
                    raise ValueError(f"optimizer state {key!r}: expected shape {d[k].shape}, "
                                     f"got {arrays[key].shape}")
                d[k] = np.array(arrays[key], dtype=np.float64)
        self.t = int(arrays["t"])


class RMSPropGraves(_Optimizer):
    slots = ("n", "g", "delta")

    def __init__(self, params, lr=1e-4, momentum=0.9, decay=0.95, epsilon=1e-4, clip=10.0):
        super().__init__(params, lr, clip)
        self.momentum, self.decay, self.epsilon = momentum, decay, epsilon

    def update(self, state, t, k, w, eps):
        n, g, delta = state["n"], state["g"], state["delta"]
        n[k] = self.decay * n[k] + (1 - self.decay) * eps ** 2
        g[k] = self.decay * g[k] + (1 - self.decay) * eps
        delta[k] = self.momentum * delta[k] - self.lr * eps / np.sqrt(n[k] - g[k] ** 2 + self.epsilon)
        return w + delta[k]


class Adam(_Optimizer):
    """Kingma & Ba 2015, with bias correction; clipping as for RMSProp."""
    slots = ("m", "v")

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, clip=10.0):
        super().__init__(params, lr, clip)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon

    def update(self, state, t, k, w, grad):
        m, v = state["m"], state["v"]
        m[k] = self.beta1 * m[k] + (1 - self.beta1) * grad
        v[k] = self.beta2 * v[k] + (1 - self.beta2) * grad ** 2
        m_hat = m[k] / (1 - self.beta1 ** t)
        v_hat = v[k] / (1 - self.beta2 ** t)
        return w - self.lr * m_hat / (np.sqrt(v_hat) + self.epsilon)


def make_optimizer(name, params, lr=None, clip=10.0):
    """'rmsprop' (default lr 1e-4) or 'adam' (default lr 1e-3)."""
    if name == "rmsprop":
        return RMSPropGraves(params, lr=1e-4 if lr is None else lr, clip=clip)
    if name == "adam":
        return Adam(params, lr=1e-3 if lr is None else lr, clip=clip)
    raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {name!r}")
