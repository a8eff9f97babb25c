"""The pretrained models bundled with diffmem: one model file each (``<name>.npz``), the
NTM's named by task (``copy``, ``repeat_copy``, ...), the stack families' by what they
are (``queue_copy``, ``stack_reversal``, ``stackrnn_anbn``).

Each family's training hook lists its own pretrained models (``TrainingHook.pretrained``:
name -> file), so a family installed from another package brings its own.  Made by the
commands in ``train_all.sh`` and ``train_stacks.sh`` (each file's header records its own
exact command); listed by ``diffmem pretrained list`` and tested by ``diffmem pretrained
table``.  Wherever a command takes a model file, ``pretrained:<name>`` names one of these
(``diffmem test --model pretrained:copy``).
"""

import os

PREFIX = "pretrained:"


def folder():
    """The folder holding the bundled pretrained model files (the installed package's)."""
    return os.path.dirname(os.path.abspath(__file__))


def models() -> dict:
    """name -> (family name, path) of every registered family's pretrained models, family
    by family."""
    from diffmem.models import families
    out = {}
    for fam in families().values():
        if fam.training is not None:
            for name, path in fam.training.pretrained().items():
                out[name] = (fam.name, os.fspath(path))
    return out


def path(name):
    """The model file of a pretrained model."""
    known = models()
    if name not in known:
        raise ValueError(f"pretrained model: expected one of {', '.join(known)}, got {name!r}")
    return known[name][1]


def is_name(spec):
    """Whether ``spec`` is written ``pretrained:<name>`` (a name, not a path)."""
    return isinstance(spec, str) and spec.startswith(PREFIX)


def resolve(spec):
    """A model file path from ``pretrained:<name>`` or a path (returned unchanged)."""
    return path(spec[len(PREFIX):]) if is_name(spec) else spec
