"""Loss and metrics (NTM.md, "Loss")."""

import math

import autograd.numpy as np

from .functions import softplus


def sequence_loss(logits, targets, mask):
    """SUM_t m_t * SUM_j (softplus(y_tj) - z_tj * y_tj), in nats (BCE with logits)."""
    per_step = np.sum(softplus(logits) - targets * logits, axis=-1)
    return np.sum(mask * per_step)


def bits(loss):
    """Nats to bits per sequence."""
    return loss / math.log(2.0)


def bit_errors(logits, targets, mask):
    """Masked entries where (y > 0) != (z > 0.5), counted per sequence (last axes T, Y)."""
    wrong = (logits > 0) != (targets > 0.5)
    return np.sum(wrong * (mask[..., None] > 0), axis=(-2, -1))
