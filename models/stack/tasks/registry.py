"""The stack family's tasks by name, their sizes, and ragged batches (the same shape as
the NTM's ``tasks/registry.py``, so that one registry can later hold every family)."""

from diffmem.models.tasks import check_int, check_rng, generator_for, pad_batch

from .transduction import bigram_flip, sequence_copy, sequence_reversal, sizes

TASKS = {
    "sequence_copy": sequence_copy,
    "sequence_reversal": sequence_reversal,
    "bigram_flip": bigram_flip,
}
SIZES = {name: sizes for name in TASKS}

# The option make_batch draws per sequence: the source length k.
KNOBS = {name: "length" for name in TASKS}

# Source lengths of the paper (section 4.1 and 4.3): unif{8, 64} to train, unif{65, 128}
# to test.
TRAIN_LENGTHS = (8, 64)
TEST_LENGTHS = (65, 128)


def _generator(name, options):
    return generator_for(TASKS, name, options)


def task_sizes(name, **options):
    """(X, Y), the input and output widths of task ``name`` with these options.

    Takes the generator's own options; those that do not change the widths are ignored.
    """
    _generator(name, options)
    return SIZES[name](**options)


def make_batch(name, rng, batch_size, lo, hi, **options):
    """``batch_size`` sequences of task ``name``, each source length drawn uniformly from
    [lo, hi] (``bigram_flip``: uniformly from the even lengths in [lo, hi]).

    Other options go to the generator.  Returns ``pad_batch``'s (inputs, targets, mask,
    lengths); lengths are the T's (2 * length + 2).
    """
    generator = _generator(name, options)
    check_rng(rng)
    knob = KNOBS[name]
    if knob in options:
        raise ValueError(f"{name}: {knob!r} is drawn from [lo, hi] by make_batch; "
                         f"do not pass it as an option")
    batch_size = check_int("batch_size", batch_size, 1)
    lo = check_int("lo", lo, 1)
    hi = check_int("hi", hi, lo)
    if name == "bigram_flip":
        evens = list(range(lo + lo % 2, hi + 1, 2))
        if not evens:
            raise ValueError(f"bigram_flip: [lo, hi] = [{lo}, {hi}] holds no even length")
        draw = lambda: evens[int(rng.integers(len(evens)))]     # noqa: E731
    else:
        draw = lambda: int(rng.integers(lo, hi + 1))            # noqa: E731
    return pad_batch([generator(rng, **dict(options, **{knob: draw()}))
                      for _ in range(batch_size)])
