"""The model families diffmem knows, found through the ``diffmem.models`` entry points.

Each entry point names a ``Family`` instance (``models/family.py``): the NTM ships here
as ``models/ntm``; a third-party family registers the same way from its own package.
``bind(config)`` is where a config (or its plain dict) meets its family: it returns the
config's ``Model``, which callers carry from there.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from .family import (GRADIENT_ONLY, LOSS, OUTPUT, Family, FixtureCase, MissingOps, Model,
                     Stage, TraceEntry)
from .hooks import CalibrationHook, TaskSet, TrainingHook

__all__ = ["GRADIENT_ONLY", "LOSS", "OUTPUT", "Family", "FixtureCase", "MissingOps", "Model",
           "Stage", "TraceEntry", "CalibrationHook", "TaskSet", "TrainingHook", "families",
           "family_named", "family_for", "bind"]


@lru_cache(maxsize=None)
def families() -> dict:
    """name -> Family of every registered family, in name order."""
    found = {}
    for ep in sorted(entry_points(group="diffmem.models"), key=lambda e: e.name):
        fam = ep.load()
        if not isinstance(fam, Family) or fam.name != ep.name:
            raise RuntimeError(f"entry point diffmem.models:{ep.name} = {ep.value}: expected "
                               f"a Family named {ep.name!r}, got {fam!r:.80}")
        found[ep.name] = fam
    return found


def family_named(name: str) -> Family:
    """The family called ``name`` (e.g. "ntm", "stack")."""
    known = families()
    if name not in known:
        raise ValueError(f"model family {name!r}: unknown to this diffmem "
                         f"(known: {sorted(known)})")
    return known[name]


@lru_cache(maxsize=None)
def _by_model() -> dict:
    out = {}
    for fam in families().values():
        for model in fam.models:
            if model in out:
                raise RuntimeError(f"model {model!r} is claimed by families {out[model].name!r} "
                                   f"and {fam.name!r}")
            out[model] = fam
    return out


def family_for(model: str) -> Family:
    """The family that runs the config ``model`` name (e.g. "queue" -> the stack family)."""
    known = _by_model()
    if model not in known:
        raise ValueError(f"config.model: expected one of {sorted(known)}, got {model!r}")
    return known[model]


def bind(config) -> Model:
    """A config of any family, or its plain dict (``to_dict()``; ``model`` defaults to
    "ntm"), -> its validated ``Model``, made once per config."""
    if isinstance(config, Model):
        return config
    if isinstance(config, dict):
        return family_for(config.get("model", "ntm")).bind(config)
    model = getattr(config, "model", None)
    if not isinstance(model, str) or not callable(getattr(config, "to_dict", None)):
        raise ValueError(f"config: expected a model config or its dict (to_dict()), "
                         f"got {type(config).__name__}")
    return family_for(model).bind(config)
