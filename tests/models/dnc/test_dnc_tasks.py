"""The DNC's tasks (DNC.md "Tasks"): the NTM's task code reused, the paper's serial copy
in TASKS.md's copy format, and the rows-written metric on a constructed trace."""

import numpy as np
import pytest

from diffmem.models.dnc import tasks
from diffmem.models.ntm import tasks as ntm_tasks


def test_the_ntm_tasks_are_the_ntm_code_itself():
    for name in ("copy", "repeat_copy", "associative_recall", "priority_sort"):
        assert tasks.TASKS[name] is ntm_tasks.TASKS[name]
        assert tasks.KNOBS[name] == ntm_tasks.KNOBS[name]
        assert tasks.task_sizes(name) == ntm_tasks.task_sizes(name)
    a = tasks.make_batch("copy", np.random.default_rng(3), 4, 2, 6)
    b = ntm_tasks.make_batch("copy", np.random.default_rng(3), 4, 2, 6)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("width,n_seqs,seq_len", [(6, 10, 5), (6, 3, 3), (1, 1, 1), (4, 2, 7)])
def test_serial_copy_is_copy_episodes_back_to_back(width, n_seqs, seq_len):
    inputs, targets, mask = tasks.serial_copy(np.random.default_rng(0), width=width,
                                              n_seqs=n_seqs, seq_len=seq_len)
    step = 2 * seq_len + 2
    T = n_seqs * step
    assert inputs.shape == (T, width + 2) and targets.shape == (T, width) and mask.shape == (T,)
    assert tasks.task_sizes("serial_copy", width=width) == (width + 2, width)
    for k in range(n_seqs):
        x, z, m = (a[k * step:(k + 1) * step] for a in (inputs, targets, mask))
        start, stop = np.zeros(step), np.zeros(step)
        start[0], stop[seq_len + 1] = 1, 1
        np.testing.assert_array_equal(x[:, width], start)
        np.testing.assert_array_equal(x[:, width + 1], stop)
        vectors = x[1:seq_len + 1, :width]
        assert set(np.unique(vectors)) <= {0.0, 1.0}
        assert not x[seq_len + 1:, :width].any() and not x[0, :width].any()
        np.testing.assert_array_equal(m, [0] * (seq_len + 2) + [1] * seq_len)
        np.testing.assert_array_equal(z[seq_len + 2:], vectors)
        assert not z[:seq_len + 2].any()


def test_serial_copy_of_one_sequence_is_the_copy_task():
    one = tasks.serial_copy(np.random.default_rng(7), width=5, n_seqs=1, seq_len=4)
    ref = ntm_tasks.copy(np.random.default_rng(7), width=5, length=4)
    for x, y in zip(one, ref):
        np.testing.assert_array_equal(x, y)


def test_serial_copy_default_width_is_six_and_episodes_differ():
    inputs, _, _ = tasks.serial_copy(np.random.default_rng(1), n_seqs=10)
    assert inputs.shape == (10 * 12, 8)
    blocks = {inputs[k * 12 + 1:k * 12 + 6].tobytes() for k in range(10)}
    assert len(blocks) > 1


def test_serial_copy_batches_draw_n_seqs_and_pad():
    inputs, targets, mask, lengths = tasks.make_batch("serial_copy", np.random.default_rng(2),
                                                      16, 2, 4, seq_len=3)
    assert inputs.shape[0] == 16 and inputs.shape[2] == 8 and targets.shape[2] == 6
    assert set(lengths.tolist()) <= {16, 24, 32} and len(set(lengths.tolist())) > 1
    assert inputs.shape[1] == lengths.max()
    for b, T in enumerate(lengths):
        assert not mask[b, T:].any() and not inputs[b, T:].any()
        assert mask[b].sum() == (T // 8) * 3


@pytest.mark.parametrize("call,message", [
    (lambda: tasks.serial_copy(np.random.default_rng(0), n_seqs=0), "n_seqs"),
    (lambda: tasks.serial_copy(np.random.default_rng(0), n_seqs=2, seq_len=0), "seq_len"),
    (lambda: tasks.serial_copy(np.random.default_rng(0), n_seqs=2, width=0), "width"),
    (lambda: tasks.serial_copy(0, n_seqs=2), "rng"),
    (lambda: tasks.make_batch("serial_copy", np.random.default_rng(0), 2, 1, 2, n_seqs=3),
     "n_seqs"),
    (lambda: tasks.make_batch("serial_copy", np.random.default_rng(0), 2, 1, 2, length=3),
     "unknown option"),
    (lambda: tasks.task_sizes("serial", width=3), "task"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rows_written_counts_distinct_rows_per_episode():
    # 3 episodes of seq_len 2 (6 steps each) over N = 5 rows; write weights built by hand.
    n_seqs, seq_len, N = 3, 2, 5
    ww = np.zeros((n_seqs * 6 + 4, 1, N))      # 4 steps of padding after the sequence
    ww[1, 0, 0] = ww[2, 0, 1] = 0.9            # episode 0 writes rows 0 and 1
    ww[3, 0, 1] = 0.7                          # ... row 1 again: still 2 distinct rows
    ww[7, 0, 0] = 0.6                          # episode 1 reuses row 0
    ww[8, 0, 2] = 0.5                          # exactly 0.5 is not "> 0.5"
    ww[8, 0, 3] = 0.4
    ww[13, 0, [1, 4]] = 0.51                   # episode 2: rows 1 and 4
    ww[20, 0, 3] = 1.0                         # padding: ignored
    per_episode, total = tasks.rows_written(ww, n_seqs, seq_len)
    assert per_episode == [2, 1, 2]
    assert total == 3                          # rows 0, 1, 4
    assert tasks.rows_written(ww[:, 0], n_seqs, seq_len) == (per_episode, total)
    assert tasks.rows_written(ww, n_seqs, seq_len, threshold=0.3) == ([2, 3, 2], 5)


def test_rows_written_refuses_a_short_or_misshapen_trace():
    with pytest.raises(ValueError, match="at least"):
        tasks.rows_written(np.zeros((5, 1, 4)), 1, 2)
    with pytest.raises(ValueError, match="one write head"):
        tasks.rows_written(np.zeros((6, 2, 4)), 1, 2)
