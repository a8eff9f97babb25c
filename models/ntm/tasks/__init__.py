"""The five NTM tasks of Graves et al. (2014, section 4) and random data (TASKS.md).

Every generator takes a ``numpy.random.Generator`` first and keyword options, and
returns float64 ``(inputs [T, X], targets [T, Y], mask [T])``.
"""

from .associative_recall import associative_recall
from .copy import copy
from .dynamic_ngrams import bayes_optimal_cost, bayes_optimal_probs, dynamic_ngrams
from .priority_sort import priority_sort
from .random_data import random_data
from .registry import KNOBS, TASKS, make_batch, pad_batch, task_sizes
from .repeat_copy import repeat_copy

__all__ = ["TASKS", "KNOBS", "task_sizes", "pad_batch", "make_batch", "copy", "repeat_copy",
           "associative_recall", "dynamic_ngrams", "bayes_optimal_probs",
           "bayes_optimal_cost", "priority_sort", "random_data"]
