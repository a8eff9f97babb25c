"""The Stack-RNN family's tasks by name, their sizes, and ragged batches (the same shape
as the NTM's ``tasks/registry.py``, so that one registry can later hold every family)."""

from diffmem.models.tasks import check_int, check_rng, generator_for, pad_batch

from .grammars import (anb2n, anbmcnm, anbn, anbncn, anbncndn, binary_addition,
                       memorisation, symbols)

TASKS = {
    "anbn": anbn,
    "anbncn": anbncn,
    "anbncndn": anbncndn,
    "anb2n": anb2n,
    "anbmcnm": anbmcnm,
    "memorisation": memorisation,
    "binary_addition": binary_addition,
}


def _sizes(name):
    def sizes(**options):
        V = len(symbols(name, **options))
        return V, V
    return sizes


SIZES = {name: _sizes(name) for name in TASKS}

# The option make_batch draws per sequence.
KNOBS = {name: "n" for name in TASKS}

# The smallest n of each task; the paper trains on n < 20 (and n + m < 20: our n for
# anbmcnm) and tests up to n = 60 (table 2, section 5.1).
MIN_N = {**{name: 1 for name in TASKS}, "anbmcnm": 2, "binary_addition": 2}
TRAIN_MAX_N = 19
TEST_MAX_N = 60


def _generator(name, options):
    return generator_for(TASKS, name, options)


def task_sizes(name, **options):
    """(X, Y) = (V, V), the alphabet size of task ``name`` (one-hot in, softmax out)."""
    _generator(name, options)
    return SIZES[name](**options)


def make_batch(name, rng, batch_size, lo, hi, **options):
    """``batch_size`` sequences of task ``name``, each ``n`` drawn uniformly from [lo, hi];
    ``m`` (anbmcnm) and ``first_length`` (binary_addition) are drawn per sequence unless
    given.  Returns ``pad_batch``'s (inputs, targets, mask, lengths); lengths are the T's.
    """
    generator = _generator(name, options)
    check_rng(rng)
    if "n" in options:
        raise ValueError(f"{name}: 'n' is drawn from [lo, hi] by make_batch; "
                         f"do not pass it as an option")
    batch_size = check_int("batch_size", batch_size, 1)
    lo = check_int("lo", lo, MIN_N[name])
    hi = check_int("hi", hi, lo)
    return pad_batch([generator(rng, n=int(rng.integers(lo, hi + 1)), **options)
                      for _ in range(batch_size)])
