"""Pretrained NTMs for the five tasks, one model file each (``<task>.npz``), and the
stack families' pretrained models (``STACK_MODELS``: ``<name>.npz``).

Made by the commands in ``train_all.sh`` (each file's header records its own exact
command); listed by ``diffmem pretrained list`` and tested by ``diffmem pretrained table``.
Wherever a command takes a model file, ``pretrained:<task>`` names one of these
(``diffmem test --model pretrained:copy``).

The stack families' models are named by what they are, not by a task
(``pretrained:queue_copy``, ``pretrained:stack_reversal``, ``pretrained:stackrnn_anbn``):
``pretrained:<name>`` resolves them, but ``diffmem pretrained list|table`` (whose columns
are the NTM's) show only ``TASKS``; their table is in docs/results.md, made by the
``diffmem test`` commands written there.
"""

import os

TASKS = ("copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort")
STACK_MODELS = ("queue_copy", "stack_reversal", "stackrnn_anbn")
PREFIX = "pretrained:"


def folder():
    """The folder holding the pretrained model files (the installed package's)."""
    return os.path.dirname(os.path.abspath(__file__))


def path(task):
    """The model file of a task (or of a stack family's model, ``STACK_MODELS``)."""
    if task not in TASKS + STACK_MODELS:
        raise ValueError(f"pretrained model: expected one of "
                         f"{', '.join(TASKS + STACK_MODELS)}, got {task!r}")
    return os.path.join(folder(), f"{task}.npz")


def is_name(spec):
    """Whether ``spec`` is written ``pretrained:<task>`` (a name, not a path)."""
    return isinstance(spec, str) and spec.startswith(PREFIX)


def resolve(spec):
    """A model file path from ``pretrained:<task>`` or a path (returned unchanged)."""
    return path(spec[len(PREFIX):]) if is_name(spec) else spec


def load(task):
    """The pretrained model of a task (``.header``, ``.config``, ``.params``)."""
    from diffmem.training.modelfile import load_model
    return load_model(path(task))
