"""Head activations (NTM.md step 3): raw interface fields -> head parameters."""

import autograd.numpy as np

from .functions import sigmoid, softmax, softplus


def activate_head(raw):
    """Apply NTM.md's activation to each raw field of one kind of heads."""
    head = {
        "key": raw["key"],                        # no activation
        "beta": softplus(raw["beta"]),            # >= 0
        "gate": sigmoid(raw["gate"]),             # in (0, 1)
        "shift": softmax(raw["shift"]),           # over the S shifts
        "gamma": 1.0 + softplus(raw["gamma"]),    # >= 1
    }
    if "erase" in raw:
        head["erase"] = sigmoid(raw["erase"])     # in (0, 1)
        head["add"] = np.tanh(raw["add"])         # in (-1, 1)
    return head
