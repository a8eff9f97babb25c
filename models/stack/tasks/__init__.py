"""Tasks of the neural stack / queue / deque family (Grefenstette et al. 2015, section 4.1;
STACKS.md Part 1): sequence copying, sequence reversal and bigram flipping over an
alphabet of 128 symbols, with the paper's coarse and fine accuracy.

Every generator takes a ``numpy.random.Generator`` first and keyword options, and
returns float64 ``(inputs [T, X], targets [T, Y], mask [T])``; the encoding and time
layout are in ``transduction.py``.  The papers' reported figures: ``PAPER.md``.
"""

from diffmem.models.tasks import pad_batch

from .accuracy import coarse, fine
from .registry import (KNOBS, SIZES, TASKS, TEST_LENGTHS, TRAIN_LENGTHS, make_batch,
                       task_sizes)
from .transduction import bigram_flip, encode, sequence_copy, sequence_reversal

__all__ = ["TASKS", "SIZES", "KNOBS", "TRAIN_LENGTHS", "TEST_LENGTHS", "task_sizes",
           "pad_batch", "make_batch", "encode", "sequence_copy", "sequence_reversal",
           "bigram_flip", "coarse", "fine"]
