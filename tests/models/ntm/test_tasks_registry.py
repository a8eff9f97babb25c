import numpy as np
import pytest

from diffmem.models.ntm.tasks import (KNOBS, TASKS, associative_recall, copy, dynamic_ngrams, make_batch,
                           pad_batch, priority_sort, random_data, repeat_copy, task_sizes)

SMALL = {  # one small, valid call per task
    "copy": dict(width=4, length=5),
    "repeat_copy": dict(width=4, length=3, repeats=2),
    "associative_recall": dict(width=3, item_len=2, n_items=4),
    "dynamic_ngrams": dict(order=3, length=30),
    "priority_sort": dict(width=4, n_items=6, n_out=4),
    "random": dict(input_size=3, output_size=2, length=6),
}
OPTIONS = {"random": dict(input_size=3, output_size=2)}  # what make_batch needs besides the knob


def test_registry_names():
    assert set(TASKS) == set(KNOBS) == set(SMALL) == {
        "copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort", "random"}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_determinism_per_seed(name):
    a = TASKS[name](np.random.default_rng(7), **SMALL[name])
    b = TASKS[name](np.random.default_rng(7), **SMALL[name])
    c = TASKS[name](np.random.default_rng(8), **SMALL[name])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_sizes_match_generated_shapes_and_floats(name):
    inputs, targets, mask = TASKS[name](np.random.default_rng(0), **SMALL[name])
    assert task_sizes(name, **SMALL[name]) == (inputs.shape[1], targets.shape[1])
    assert mask.shape == (inputs.shape[0],) == (targets.shape[0],)
    assert all(a.dtype == np.float64 and np.isfinite(a).all() for a in (inputs, targets, mask))
    assert set(np.unique(mask)) <= {0.0, 1.0} and mask.sum() >= 1


@pytest.mark.parametrize("name", sorted(SMALL))
def test_rng_must_be_a_generator(name):
    for bad in (0, None, np.random.RandomState(0)):
        with pytest.raises(ValueError, match="rng.*numpy.random.Generator"):
            TASKS[name](bad, **SMALL[name])


BAD = [  # (generator, arguments, message that names the argument and its range)
    (copy, dict(length=0), r"length.*>= 1"),
    (copy, dict(length=3, width=0), r"width.*>= 1"),
    (copy, dict(length=2.0), r"length.*integer"),
    (copy, dict(length=True), r"length.*integer"),
    (repeat_copy, dict(length=2, repeats=0), r"repeats.*\[1, 10\]"),
    (repeat_copy, dict(length=2, repeats=11), r"repeats.*\[1, 10\]"),
    (repeat_copy, dict(length=2, repeats=1, max_repeats=0), r"max_repeats.*>= 1"),
    (repeat_copy, dict(length=0, repeats=1), r"length.*>= 1"),
    (associative_recall, dict(n_items=1), r"n_items.*\[2, "),
    (associative_recall, dict(n_items=5, width=1, item_len=2), r"n_items.*\[2, 4\]"),
    (associative_recall, dict(n_items=3, item_len=0), r"item_len.*>= 1"),
    (dynamic_ngrams, dict(length=1), r"length.*>= 2"),
    (dynamic_ngrams, dict(order=0), r"order.*>= 1"),
    (priority_sort, dict(n_items=3, n_out=4), r"n_out.*\[1, 3\]"),
    (priority_sort, dict(n_items=0), r"n_items.*>= 1"),
    (priority_sort, dict(n_out=0), r"n_out.*\[1, 20\]"),
    (random_data, dict(input_size=0, output_size=1, length=3), r"input_size.*>= 1"),
    (random_data, dict(input_size=1, output_size=1, length=0), r"length.*>= 1"),
    (random_data, dict(input_size=1, output_size=1, length=3, mask_prob=0.0),
     r"mask_prob.*\(0, 1\]"),
    (random_data, dict(input_size=1, output_size=1, length=3, mask_prob=float("nan")),
     r"mask_prob"),
]


@pytest.mark.parametrize("generator,kwargs,message", BAD)
def test_argument_errors_name_the_argument_and_range(generator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generator(np.random.default_rng(0), **kwargs)


def test_task_sizes():
    assert task_sizes("copy") == (10, 8)
    assert task_sizes("repeat_copy", width=3, length=9) == (5, 4)
    assert task_sizes("associative_recall") == (8, 6)
    assert task_sizes("dynamic_ngrams", order=4) == (1, 1)
    assert task_sizes("priority_sort") == (11, 8)
    assert task_sizes("random", input_size=7, output_size=2) == (7, 2)
    with pytest.raises(ValueError, match="task.*'copy'"):
        task_sizes("cpy")
    with pytest.raises(ValueError, match=r"unknown option.*'widht'"):
        task_sizes("copy", widht=4)
    with pytest.raises(ValueError, match="width"):
        task_sizes("copy", width=0)


def test_pad_batch_pads_at_the_end_with_zeros():
    seqs = [copy(np.random.default_rng(s), width=3, length=n) for s, n in [(0, 4), (1, 1), (2, 6)]]
    inputs, targets, mask, lengths = pad_batch(seqs)
    np.testing.assert_array_equal(lengths, [10, 4, 14])
    assert inputs.shape == (3, 14, 5) and targets.shape == (3, 14, 3) and mask.shape == (3, 14)
    for b, (x, z, m) in enumerate(seqs):
        T = len(m)
        np.testing.assert_array_equal(inputs[b, :T], x)
        np.testing.assert_array_equal(targets[b, :T], z)
        np.testing.assert_array_equal(mask[b, :T], m)
        assert not inputs[b, T:].any() and not targets[b, T:].any() and not mask[b, T:].any()


def test_padding_cannot_change_earlier_steps_of_the_reference():
    from diffmem.models.ntm.reference.config import NTMConfig
    from diffmem.models.ntm.reference.params import init_params
    from diffmem.models.ntm.reference.run import run_sequence

    cfg = NTMConfig(input_size=5, output_size=3, controller_size=8, memory_rows=6,
                    memory_width=4)
    params = init_params(cfg, seed=0)
    short = copy(np.random.default_rng(0), width=3, length=2)
    longer = copy(np.random.default_rng(1), width=3, length=5)
    inputs, targets, mask, _ = pad_batch([short, longer])
    alone = run_sequence(cfg, params, *short, want_trace=False, want_grads=False)
    padded = run_sequence(cfg, params, inputs[0], targets[0], mask[0], want_trace=False,
                          want_grads=False)
    T = len(short[2])
    np.testing.assert_array_equal(padded["logits"][:T], alone["logits"])
    assert padded["loss"] == alone["loss"]


def test_pad_batch_rejects_bad_input():
    good = copy(np.random.default_rng(0), width=3, length=2)
    with pytest.raises(ValueError, match="at least one"):
        pad_batch([])
    with pytest.raises(ValueError, match="sequence 1"):
        pad_batch([good, copy(np.random.default_rng(0), width=4, length=2)])
    with pytest.raises(ValueError, match="sequence 0"):
        pad_batch([(good[0], good[1], good[2][:-1])])


@pytest.mark.parametrize("name", sorted(SMALL))
def test_make_batch_draws_the_knob_in_range_and_is_deterministic(name):
    lo, hi = 2, 5
    batch = make_batch(name, np.random.default_rng(3), 40, lo, hi, **OPTIONS.get(name, {}))
    again = make_batch(name, np.random.default_rng(3), 40, lo, hi, **OPTIONS.get(name, {}))
    for x, y in zip(batch, again):
        np.testing.assert_array_equal(x, y)
    inputs, targets, mask, lengths = batch
    assert inputs.shape[:2] == targets.shape[:2] == mask.shape == (40, lengths.max())
    assert (inputs.shape[2], targets.shape[2]) == task_sizes(name, **OPTIONS.get(name, {}))
    for b, T in enumerate(lengths):
        assert mask[b, :T].sum() >= 1 and not mask[b, T:].any()
    # Recover each knob from T (the T formulas of TASKS.md) and check it covers [lo, hi].
    knobs = {
        "copy": (lengths - 2) // 2,
        "associative_recall": lengths // 4 - 2,       # item_len = 3
        "dynamic_ngrams": lengths,
        "random": lengths,
    }.get(name)
    if knobs is not None:
        assert set(knobs) == set(range(lo, hi + 1))


def test_make_batch_repeat_copy_draws_repeats():
    inputs, targets, mask, lengths = make_batch("repeat_copy", np.random.default_rng(0), 60, 2, 2,
                                                width=3, max_repeats=4)
    counts = inputs[:, 3, 4] * 4                      # the normalised count at step L+1 = 3
    assert set(np.round(counts)) == {1, 2, 3, 4}
    np.testing.assert_array_equal(lengths, 2 * (np.round(counts) + 1) + 3)
    fixed = make_batch("repeat_copy", np.random.default_rng(0), 5, 1, 3, width=3, repeats=2)
    assert set(fixed[3]) <= {3 * L + 3 for L in (1, 2, 3)}       # T = L*(2+1) + 3
    np.testing.assert_array_equal(fixed[0][:, :, 4].max(axis=1), 0.2)  # C / max_repeats


def test_make_batch_priority_sort_caps_n_out():
    _, _, mask, lengths = make_batch("priority_sort", np.random.default_rng(0), 30, 1, 20)
    n_out = mask.sum(axis=1)
    n_items = lengths - n_out - 2
    np.testing.assert_array_equal(n_out, np.minimum(16, n_items))


def test_make_batch_rejects_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="hi.*>= 4"):
        make_batch("copy", rng, 2, 4, 3)
    with pytest.raises(ValueError, match="lo.*>= 1"):
        make_batch("copy", rng, 2, 0, 3)
    with pytest.raises(ValueError, match="batch_size.*>= 1"):
        make_batch("copy", rng, 0, 1, 3)
    with pytest.raises(ValueError, match="'length' is drawn"):
        make_batch("copy", rng, 2, 1, 3, length=4)
    with pytest.raises(ValueError, match="rng"):
        make_batch("copy", 0, 2, 1, 3)
    with pytest.raises(ValueError, match="task"):
        make_batch("sort", rng, 2, 1, 3)
    with pytest.raises(ValueError, match=r"n_items.*\[2, "):
        make_batch("associative_recall", rng, 2, 1, 3)


def test_pad_batch_rejects_non_triples_and_wrong_ranks():
    good = copy(np.random.default_rng(0), width=3, length=2)
    with pytest.raises(ValueError, match="triples"):
        pad_batch([good[:2]])
    with pytest.raises(ValueError, match="sequence 0"):
        pad_batch([(good[0][:, 0], good[1], good[2])])
