"""diffmem: the oracle for differentiable-memory kernels.

This folder is ``src/diffmem`` (not ``diffmem/`` at the top) so that running Python from
the repository root cannot import it in place of the installed package, whose
sub-packages live in the top-level folders.

The installed package maps the repository's top-level folders to sub-packages:
``reference/`` -> ``diffmem.reference``, ``backends/`` -> ``diffmem.backends``,
``harness/`` -> ``diffmem.harness``, ``fixtures/`` -> ``diffmem.fixtures``,
``tasks/`` -> ``diffmem.models.ntm.tasks``, ``training/`` -> ``diffmem.training``.
"""

__version__ = "0.1.0"
