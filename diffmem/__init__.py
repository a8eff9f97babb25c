"""diffmem: the oracle for differentiable-memory kernels.

The installed package maps the repository's top-level folders to sub-packages:
``reference/`` -> ``diffmem.reference``, ``backends/`` -> ``diffmem.backends``,
``harness/`` -> ``diffmem.harness``, ``fixtures/`` -> ``diffmem.fixtures``,
``tasks/`` -> ``diffmem.tasks``, ``training/`` -> ``diffmem.training``.
"""

__version__ = "0.1.0"
