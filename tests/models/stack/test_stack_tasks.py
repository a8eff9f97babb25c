"""The stack family's tasks (Grefenstette et al. 2015, section 4): layout, targets,
masks, batches and the coarse / fine accuracy."""

import numpy as np
import pytest

from diffmem.models.stack.tasks import (KNOBS, TASKS, TEST_LENGTHS, TRAIN_LENGTHS,
                                        bigram_flip, coarse, encode, fine, make_batch,
                                        sequence_copy, sequence_reversal, task_sizes)


def flip_pairs(source):
    # A second, plain statement of the paper's rule: a1 a2 a3 a4 -> a2 a1 a4 a3.
    out = []
    for i in range(0, len(source), 2):
        out += [source[i + 1], source[i]]
    return out


EXPECTED = {
    "sequence_copy": lambda s: list(s),
    "sequence_reversal": lambda s: list(s)[::-1],
    "bigram_flip": flip_pairs,
}


def read_back(inputs, targets, mask, alphabet):
    """(source, target) read from one sequence, checking the documented layout."""
    T = len(mask)
    k = (T - 2) // 2
    assert T == 2 * k + 2
    assert (inputs.sum(axis=1) == 1).all() and set(np.unique(inputs)) == {0.0, 1.0}
    read = inputs.argmax(axis=1)
    assert read[0] == alphabet and read[k + 1] == alphabet + 1       # <s>, |||
    source = read[1:k + 1]
    assert (source < alphabet).all()
    np.testing.assert_array_equal(mask, [0] * (k + 1) + [1] * (k + 1))
    assert not targets[:k + 1].any()
    assert (targets[k + 1:].sum(axis=1) == 1).all()
    said = targets[k + 1:].argmax(axis=1)
    assert said[-1] == alphabet and (said[:-1] < alphabet).all()     # </s> last
    np.testing.assert_array_equal(read[k + 2:], said[:-1])            # teacher forcing
    return list(source), list(said[:-1])


@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("alphabet,length", [(1, 2), (5, 2), (128, 8), (7, 30)])
def test_targets_are_the_transduction_of_the_source(name, alphabet, length):
    inputs, targets, mask = TASKS[name](np.random.default_rng(length), alphabet=alphabet,
                                        length=length)
    assert inputs.shape == (2 * length + 2, alphabet + 2)
    assert targets.shape == (2 * length + 2, alphabet + 1)
    assert all(a.dtype == np.float64 for a in (inputs, targets, mask))
    source, target = read_back(inputs, targets, mask, alphabet)
    assert len(source) == length
    assert target == EXPECTED[name](source)


def test_hand_worked_layout():
    inputs, targets, mask = encode([2, 0, 1], [1, 0, 2], alphabet=3)
    # <s>=3, |||=4 in; </s>=3 out.
    np.testing.assert_array_equal(inputs.argmax(axis=1), [3, 2, 0, 1, 4, 1, 0, 2])
    np.testing.assert_array_equal(targets[4:].argmax(axis=1), [1, 0, 2, 3])
    np.testing.assert_array_equal(mask, [0, 0, 0, 0, 1, 1, 1, 1])
    i, t, m = bigram_flip(np.random.default_rng(0), alphabet=50, length=6)
    src = i.argmax(axis=1)[1:7]
    np.testing.assert_array_equal(t[7:13].argmax(axis=1),
                                  [src[1], src[0], src[3], src[2], src[5], src[4]])


def test_sources_are_uniform_over_the_alphabet():
    counts = np.zeros(4)
    for seed in range(50):
        inputs, _, _ = sequence_copy(np.random.default_rng(seed), alphabet=4, length=40)
        counts += inputs[1:41, :4].sum(axis=0)
    assert counts.sum() == 2000 and counts.min() > 400       # each ~500 of 2000


@pytest.mark.parametrize("name", sorted(TASKS))
def test_make_batch_ragged_and_padded(name):
    lo, hi = 3, 9
    inputs, targets, mask, lengths = make_batch(name, np.random.default_rng(1), 40, lo, hi,
                                                alphabet=6)
    again = make_batch(name, np.random.default_rng(1), 40, lo, hi, alphabet=6)
    np.testing.assert_array_equal(inputs, again[0])
    assert inputs.shape == (40, lengths.max(), 8) and targets.shape[2] == 7
    ks = (lengths - 2) // 2
    allowed = [k for k in range(lo, hi + 1) if name != "bigram_flip" or k % 2 == 0]
    assert set(ks) == set(allowed)
    for b, T in enumerate(lengths):
        assert not inputs[b, T:].any() and not targets[b, T:].any() and not mask[b, T:].any()
        source, target = read_back(inputs[b, :T], targets[b, :T], mask[b, :T], 6)
        assert target == EXPECTED[name](source)


def test_sizes_and_paper_lengths():
    assert task_sizes("sequence_copy") == (130, 129)
    assert task_sizes("bigram_flip", alphabet=10, length=4) == (12, 11)
    assert TRAIN_LENGTHS == (8, 64) and TEST_LENGTHS == (65, 128)
    assert set(KNOBS.values()) == {"length"}


BAD = [
    (lambda: bigram_flip(np.random.default_rng(0), length=7), r"length.*even"),
    (lambda: bigram_flip(np.random.default_rng(0), length=1), r"length.*>= 2"),
    (lambda: sequence_copy(np.random.default_rng(0), length=0), r"length.*>= 1"),
    (lambda: sequence_reversal(np.random.default_rng(0), length=2.0), r"length.*integer"),
    (lambda: sequence_copy(np.random.default_rng(0), alphabet=0, length=3), r"alphabet.*>= 1"),
    (lambda: sequence_copy(0, length=3), r"rng.*Generator"),
    (lambda: encode([0, 1], [1], alphabet=2), r"target.*as many"),
    (lambda: encode([0, 2], [1, 0], alphabet=2), r"source.*\[0, 2\)"),
    (lambda: make_batch("bigram_flip", np.random.default_rng(0), 2, 7, 7), r"no even length"),
    (lambda: make_batch("sequence_copy", np.random.default_rng(0), 2, 1, 3, length=2),
     r"'length' is drawn"),
    (lambda: make_batch("copy", np.random.default_rng(0), 2, 1, 3), r"task: expected one of"),
    (lambda: make_batch("sequence_copy", np.random.default_rng(0), 2, 1, 3, width=3),
     r"unknown option"),
    (lambda: task_sizes("sequence_copy", alphabet=-1), r"alphabet"),
]


@pytest.mark.parametrize("call,message", BAD)
def test_bad_options_raise_one_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# Accuracy on hand-made logits: three sequences, ragged masks, Y = 3.

def hand_batch():
    T, Y = 5, 3
    targets = np.zeros((3, T, Y))
    mask = np.zeros((3, T))
    truth = [[0, 1, 2, 0, 0], [2, 2, 0, 0, 0], [1, 0, 1, 2, 1]]
    for b, row in enumerate(truth):
        targets[b, np.arange(T), row] = 1.0
    mask[0, 1:4] = 1          # 3 target steps
    mask[1, 0:2] = 1          # 2 (then padding)
    mask[2, 1:5] = 1          # 4
    targets[1, 2:] = 0        # padding rows are zero
    guess = np.array([[2, 1, 2, 0, 1],     # right on every masked step (wrong elsewhere)
                      [2, 0, 1, 1, 1],     # right, wrong              -> 1 of 2 before
                      [1, 0, 0, 2, 1]])    # right, wrong, right, right -> 1 of 4 before
    logits = np.full((3, T, Y), -1.0)
    logits[np.arange(3)[:, None], np.arange(T)[None], guess] = 2.0
    return logits, targets, mask


def test_coarse_and_fine_on_hand_made_logits():
    logits, targets, mask = hand_batch()
    assert coarse(logits, targets, mask) == pytest.approx(1 / 3)
    assert fine(logits, targets, mask) == pytest.approx((3 / 3 + 1 / 2 + 1 / 4) / 3)
    # One sequence alone, as [T, Y].
    assert coarse(logits[2], targets[2], mask[2]) == 0.0
    assert fine(logits[2], targets[2], mask[2]) == pytest.approx(0.25)
    # A first-step error leaves nothing before it.
    logits[0, 1] = [5.0, 0.0, 0.0]
    assert fine(logits[:1], targets[:1], mask[:1]) == 0.0


def test_accuracy_ties_take_the_first_index():
    targets = np.zeros((1, 2, 3))
    targets[0, :, 0] = 1
    logits = np.zeros((1, 2, 3))                 # all equal: argmax is index 0
    assert coarse(logits, targets, np.ones((1, 2))) == 1.0
    targets = targets[:, :, ::-1].copy()         # truth index 2: tied logits are wrong
    assert fine(logits, targets, np.ones((1, 2))) == 0.0


def test_teacher_forced_scores_equal_greedy_decoding():
    """The documented equivalence: a causal predictor scored on one teacher-forced pass
    gets the paper's greedy coarse / fine scores (its own outputs fed back)."""
    A, rng = 9, np.random.default_rng(5)

    def predict(history):
        # A reversal solver that errs whenever the symbol just read is 3.
        read = [s for s in history]
        sep = read.index(A + 1)
        source, produced = read[1:sep], read[sep + 1:]
        j = len(produced)
        answer = source[::-1][j] if j < len(source) else A       # A = </s> out
        return (answer + 1) % (A + 1) if read[-1] == 3 else answer

    batch, paper_fine, paper_coarse = [], [], []
    for _ in range(30):
        k = int(rng.integers(2, 8))
        inputs, targets, mask = sequence_reversal(rng, alphabet=A, length=k)
        read = list(inputs.argmax(axis=1))
        logits = np.zeros_like(targets)
        for t in range(k + 1, 2 * k + 2):
            logits[t, predict(read[:t + 1])] = 1.0
        batch.append((logits, targets, mask))
        # Greedy decoding: feed back the model's own symbols.
        history, right = read[:k + 2], 0
        truth = list(targets[k + 1:].argmax(axis=1))
        for t in range(k + 1):
            out = predict(history)
            if out != truth[t]:
                break
            right += 1
            history.append(out)
        paper_fine.append(right / (k + 1))
        paper_coarse.append(right == k + 1)
    for (logits, targets, mask), f, c in zip(batch, paper_fine, paper_coarse):
        assert fine(logits, targets, mask) == pytest.approx(f)
        assert coarse(logits, targets, mask) == float(c)
    assert 0 < np.mean(paper_coarse) < 1                 # both outcomes were exercised


def test_accuracy_rejects_bad_arrays():
    logits, targets, mask = hand_batch()
    bad_mask = mask.copy()
    bad_mask[1] = 0
    with pytest.raises(ValueError, match="mask: sequence 1 has no target step"):
        coarse(logits, targets, bad_mask)
    with pytest.raises(ValueError, match="mask: expected only 0s and 1s"):
        fine(logits, targets, mask * 0.5)
    with pytest.raises(ValueError, match=r"accuracy: expected logits \[B, T, Y\]"):
        fine(logits, targets[:, :, :2], mask)
