"""Argument checks, one-hot codes and padding shared by the Stack-RNN family's tasks.

The helpers are every family's (``diffmem.models.tasks``); this module names them for
the family's generators.
"""

from diffmem.models.tasks import check_int, check_rng, one_hot, pad_batch

__all__ = ["check_int", "check_rng", "one_hot", "pad_batch"]
