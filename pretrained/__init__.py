"""Pretrained NTMs for the five tasks, one model file each (``<task>.npz``).

Made by the commands in ``train_all.sh`` (each file's header records its own exact
command); tested by ``diffmem pretrained-table``.  See README.md, "Pretrained models".
"""

import os

TASKS = ("copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort")


def path(task):
    """The model file of a task."""
    if task not in TASKS:
        raise ValueError(f"pretrained task: expected one of {TASKS}, got {task!r}")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{task}.npz")


def load(task):
    """The pretrained model of a task (``.header``, ``.config``, ``.params``)."""
    from diffmem.training.modelfile import load_model
    return load_model(path(task))
