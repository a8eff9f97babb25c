"""Tasks of the Stack-RNN family (Joulin & Mikolov 2015, section 5.1; STACKS.md Part 2):
a^n b^n, a^n b^n c^n, a^n b^n c^n d^n, a^n b^2n, a^n b^m c^(n+m), memorisation and
binary addition, as next-symbol prediction, with the paper's sequence accuracy on the
deterministic symbols.

Every generator takes a ``numpy.random.Generator`` first and keyword options, and
returns float64 ``(inputs [T, V], targets [T, V], mask [T])``; alphabets, the stream
convention and the masks are in ``grammars.py``, the deterministic symbols in
``scoring.py``.  The papers' reported figures: ``PAPER.md``.
"""

from diffmem.models.tasks import pad_batch

from .scoring import deterministic, deterministic_positions, sequence_correct
from .grammars import (anb2n, anbmcnm, anbn, anbncn, anbncndn, binary_addition,
                       memorisation, stream, symbols, to_indices)
from .registry import (KNOBS, MIN_N, SIZES, TASKS, TEST_MAX_N, TRAIN_MAX_N, make_batch,
                       task_sizes)

__all__ = ["TASKS", "SIZES", "KNOBS", "MIN_N", "TRAIN_MAX_N", "TEST_MAX_N", "task_sizes",
           "pad_batch", "make_batch", "symbols", "to_indices", "stream", "anbn", "anbncn",
           "anbncndn", "anb2n", "anbmcnm", "memorisation", "binary_addition",
           "deterministic", "deterministic_positions", "sequence_correct"]
