"""The tasks by name, their sizes, and batches of sequences of different lengths."""

import inspect

import numpy as np

from diffmem.models.tasks import generator_for, pad_batch

from ._common import check_int, check_rng
from .associative_recall import associative_recall, sizes as associative_recall_sizes
from .copy import copy, sizes as copy_sizes
from .dynamic_ngrams import dynamic_ngrams, sizes as dynamic_ngrams_sizes
from .priority_sort import priority_sort, sizes as priority_sort_sizes
from .random_data import random_data, sizes as random_sizes
from .repeat_copy import repeat_copy, sizes as repeat_copy_sizes

TASKS = {
    "copy": copy,
    "repeat_copy": repeat_copy,
    "associative_recall": associative_recall,
    "dynamic_ngrams": dynamic_ngrams,
    "priority_sort": priority_sort,
    "random": random_data,
}
SIZES = {
    "copy": copy_sizes,
    "repeat_copy": repeat_copy_sizes,
    "associative_recall": associative_recall_sizes,
    "dynamic_ngrams": dynamic_ngrams_sizes,
    "priority_sort": priority_sort_sizes,
    "random": random_sizes,
}

# The option make_batch draws per sequence: each task's "how long" knob.
KNOBS = {
    "copy": "length",
    "repeat_copy": "length",
    "associative_recall": "n_items",
    "dynamic_ngrams": "length",
    "priority_sort": "n_items",
    "random": "length",
}


def _generator(name, options):
    return generator_for(TASKS, name, options)


def _default(generator, option):
    parameter = inspect.signature(generator).parameters.get(option)
    return None if parameter is None else parameter.default


def task_sizes(name, **options):
    """(X, Y), the input and output widths of task ``name`` with these options.

    Takes the generator's own options; those that do not change the widths are ignored.
    """
    _generator(name, options)
    return SIZES[name](**options)


def make_batch(name, rng, batch_size, lo, hi, **options):
    """``batch_size`` sequences of task ``name``, each knob drawn uniformly from [lo, hi].

    The knob (``KNOBS``): ``length`` for copy, repeat_copy, dynamic_ngrams and random;
    ``n_items`` for associative_recall and priority_sort.  repeat_copy draws its
    ``repeats`` from [1, max_repeats] per sequence unless ``repeats`` is given;
    priority_sort uses n_out = min(n_out, n_items).  Other options go to the generator.
    Returns ``pad_batch``'s (inputs, targets, mask, lengths); lengths are the T's.
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
    max_repeats = options.get("max_repeats", _default(generator, "max_repeats"))
    n_out = options.get("n_out", _default(generator, "n_out"))
    sequences = []
    for _ in range(batch_size):
        size = int(rng.integers(lo, hi + 1))
        chosen = dict(options, **{knob: size})
        if name == "repeat_copy" and "repeats" not in options:
            chosen["repeats"] = int(rng.integers(1, check_int("max_repeats", max_repeats, 1) + 1))
        if name == "priority_sort":
            chosen["n_out"] = min(check_int("n_out", n_out, 1), size)
        sequences.append(generator(rng, **chosen))
    return pad_batch(sequences)
