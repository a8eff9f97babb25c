import math

import numpy as np
import pytest

from diffmem.models.ntm.tasks import bayes_optimal_cost, bayes_optimal_probs, dynamic_ngrams, pad_batch


def brute_force_probs(bits, order):
    """P(next bit = 1) after each step, by counting matches in the prefix as strings."""
    s = "".join(str(int(b)) for b in bits)
    k = order - 1
    probs = []
    for t in range(len(s)):
        u = t + 1                       # the position being predicted
        if u < k:
            probs.append(0.5)           # no full context yet: a fair coin
            continue
        context = s[u - k:u]
        followers = [s[i + k] for i in range(0, u - k) if s[i:i + k] == context]
        n1, n0 = followers.count("1"), followers.count("0")
        probs.append((n1 + 0.5) / (n0 + n1 + 1))
    return probs


@pytest.mark.parametrize("order,length", [(1, 30), (2, 40), (3, 60), (6, 80)])
def test_bayes_optimal_probs_match_brute_force_counts(order, length):
    inputs, _, _ = dynamic_ngrams(np.random.default_rng(order), order=order, length=length)
    np.testing.assert_allclose(bayes_optimal_probs(inputs[:, 0], order),
                               brute_force_probs(inputs[:, 0], order), rtol=0, atol=1e-15)


def test_bayes_optimal_probs_by_hand():
    # order 2: context = previous bit.  bits 0 1 0 1 1
    # t=0 predicts bit 1: context 0 unseen -> 1/2; t=1 predicts bit 2: context 1 unseen;
    # t=2 predicts bit 3: context 0 seen once, followed by 1 -> (1 + 1/2) / 2 = 3/4;
    # t=3 predicts bit 4: context 1 seen once, followed by 0 -> 1/4;
    # t=4 predicts bit 5: context 1 seen twice (0, 1) -> (1 + 1/2) / 3 = 1/2.
    np.testing.assert_allclose(bayes_optimal_probs([0, 1, 0, 1, 1], 2),
                               [0.5, 0.5, 0.75, 0.25, 0.5])


def test_dynamic_ngrams_layout():
    inputs, targets, mask = dynamic_ngrams(np.random.default_rng(0), order=6, length=200)
    assert inputs.shape == (200, 1) and targets.shape == (200, 1) and mask.shape == (200,)
    assert set(np.unique(inputs)) <= {0.0, 1.0}
    np.testing.assert_array_equal(targets[:-1, 0], inputs[1:, 0])
    np.testing.assert_array_equal(mask, [1] * 199 + [0])


def test_bayes_cost_below_a_fair_coin_on_long_sequences():
    # The floor is below a constant-1/2 predictor (ln 2 per target) because the tables
    # drawn from Beta(1/2, 1/2) are mostly far from 1/2.
    costs, coin = 0.0, 0.0
    for seed in range(10):
        inputs, targets, mask = dynamic_ngrams(np.random.default_rng(seed), length=1000)
        costs += bayes_optimal_cost(inputs, targets, mask, order=6)
        coin += mask.sum() * math.log(2)
    assert costs < 0.9 * coin, f"Bayes cost {costs:.1f} nats vs fair coin {coin:.1f}"


def test_bayes_cost_is_the_masked_cross_entropy_and_padding_changes_nothing():
    seqs = [dynamic_ngrams(np.random.default_rng(s), order=3, length=n)
            for s, n in [(0, 20), (1, 7), (2, 13)]]
    inputs, targets, mask, _ = pad_batch(seqs)
    batched = bayes_optimal_cost(inputs, targets, mask, order=3)
    for b, (x, z, m) in enumerate(seqs):
        p = np.array(brute_force_probs(x[:, 0], 3))
        expected = -sum(math.log(p[t] if z[t, 0] else 1 - p[t]) for t in range(len(m) - 1))
        assert batched[b] == pytest.approx(expected, rel=1e-12)
        assert bayes_optimal_cost(x, z, m, order=3) == pytest.approx(expected, rel=1e-12)


def test_ngram_tables_follow_beta_half_half():
    # order 1: one table entry p per sequence; Var[Beta(1/2, 1/2)] = 1/8 (uniform: 1/12).
    rng = np.random.default_rng(0)
    freq = [dynamic_ngrams(rng, order=1, length=400)[0].mean() for _ in range(300)]
    assert abs(np.mean(freq) - 0.5) < 0.06 and 0.10 < np.var(freq) < 0.15


def test_bayes_probs_reject_non_bits():
    with pytest.raises(ValueError, match="bits"):
        bayes_optimal_probs([0, 1, 0.5], 2)
    with pytest.raises(ValueError, match="order"):
        bayes_optimal_probs([0, 1], 0)


def test_first_bits_without_context_are_fair_coins():
    rng = np.random.default_rng(0)
    first = np.array([dynamic_ngrams(rng, order=6, length=8)[0][:5, 0] for _ in range(400)])
    assert abs(first.mean() - 0.5) < 0.05       # 2000 fair bits: standard error 0.011
