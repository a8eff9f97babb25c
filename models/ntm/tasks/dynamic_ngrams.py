"""Dynamic n-grams (Graves et al. 2014, section 4.4; TASKS.md "dynamic_ngrams").

A fresh n-gram table per sequence, so the model must infer it on the fly.  The
Bayes-optimal predictor (the paper's comparison, after Murphy 2012) is the cost floor.
"""

import numpy as np

from ._common import check_int, check_rng


def sizes(*, order=6, **_):
    """(X, Y) = (1, 1): one bit in, the next bit out."""
    check_int("order", order, 1)
    return 1, 1


def shift_in(context, bit, order):
    """The context after ``bit``: the last order-1 bits as a table index, oldest bit
    most significant."""
    return (2 * context + bit) % 2 ** (order - 1)


def dynamic_ngrams(rng, *, order=6, length=200):
    """``length`` bits from a random order-``order`` Markov table; predict the next bit.

    The table has 2^(order-1) probabilities P(1 | previous order-1 bits), each drawn
    from Beta(1/2, 1/2), fresh per sequence.  The first order-1 bits, which have no
    full context, are fair coin flips (the paper does not say).
    T = ``length`` (>= 2).  Inputs [T, 1]: bit t.  Targets [T, 1]: bit t+1, with the
    mask 1 on steps 0..T-2 and 0 on the last step (it has no next bit).
    Batch knob: ``length``.
    """
    check_rng(rng)
    order = check_int("order", order, 1)
    T = check_int("length", length, 2)
    table = rng.beta(0.5, 0.5, size=2 ** (order - 1)).tolist()
    coin = rng.uniform(size=T).tolist()
    bits, context = [], 0
    for u in range(T):
        p_one = 0.5 if u < order - 1 else table[context]
        bits.append(int(coin[u] < p_one))
        context = shift_in(context, bits[-1], order)
    bits = np.array(bits)

    inputs = bits[:, None].astype(np.float64)
    targets = np.zeros((T, 1))
    targets[:-1, 0] = bits[1:]
    mask = np.ones(T)
    mask[-1] = 0.0
    return inputs, targets, mask


def _check_bits(bits):
    bits = np.asarray(bits, dtype=np.float64)
    if bits.ndim != 1 or not np.all((bits == 0) | (bits == 1)):
        raise ValueError(f"bits: expected a 1-D array of 0s and 1s, got shape {bits.shape} "
                         f"with values {np.unique(bits)[:5]}")
    return bits.astype(np.int64)


def bayes_optimal_probs(bits, order):
    """p[t] = P(bit t+1 = 1 | bits 0..t) for t = 0..len(bits)-1, Bayes-optimally.

    Aligned with the task's targets: p[t] predicts target t.  A bit at position
    u < order-1 is a fair coin: 1/2.  Otherwise, with N0, N1 the 0s and 1s seen so far
    after the same context (order-1 bits), (N1 + 1/2) / (N0 + N1 + 1): the posterior
    mean of the table entry under its Beta(1/2, 1/2) prior (TASKS.md).
    """
    bits = _check_bits(bits)
    order = check_int("order", order, 1)
    counts = [[0, 0] for _ in range(2 ** (order - 1))]  # [context][N0, N1]
    p = np.full(len(bits), 0.5)
    context = 0
    for t, bit in enumerate(bits.tolist()):
        if t >= order - 1:  # bit t had a full context: it is an observation of that entry
            counts[context][bit] += 1
        context = shift_in(context, bit, order)
        if t + 1 >= order - 1:  # bit t+1 will have a full context: predict it
            n0, n1 = counts[context]
            p[t] = (n1 + 0.5) / (n0 + n1 + 1.0)
    return p


def bayes_optimal_cost(inputs, targets, mask, order=6):
    """The Bayes-optimal predictor's loss in nats on the masked targets.

    The model's per-sequence loss (NTM.md "Loss") with p in place of sigmoid(logit):
    -SUM_t m_t [z_t log p_t + (1 - z_t) log(1 - p_t)].  One sequence ([T, 1] arrays)
    gives a float; a padded batch ([B, T, 1], mask [B, T]) gives [B] costs (padding
    comes after the sequence with zero mask and the predictor is causal, so padding
    changes nothing).
    """
    inputs, targets, mask = (np.asarray(a, dtype=np.float64) for a in (inputs, targets, mask))
    if inputs.ndim == 3:
        return np.array([bayes_optimal_cost(i, t, m, order)
                         for i, t, m in zip(inputs, targets, mask)])
    T = len(mask)
    if inputs.shape != (T, 1) or targets.shape != (T, 1) or mask.shape != (T,):
        raise ValueError(f"bayes_optimal_cost: expected inputs [T, 1], targets [T, 1], "
                         f"mask [T]; got {inputs.shape}, {targets.shape}, {mask.shape}")
    p = bayes_optimal_probs(inputs[:, 0], order)
    z = targets[:, 0]
    return float(-np.sum(mask * (z * np.log(p) + (1.0 - z) * np.log1p(-p))))
