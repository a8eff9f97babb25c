"""The model families diffmem knows, found through the ``diffmem.models`` entry points.

Each entry point names a ``Family`` (``models/family.py``): the NTM ships here as
``models/ntm``; a third-party family registers the same way from its own package.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import entry_points

from .family import GRADIENT_ONLY, LOSS, OUTPUT, Family, FixtureCase, Stage, TraceEntry

__all__ = ["GRADIENT_ONLY", "LOSS", "OUTPUT", "Family", "FixtureCase", "Stage", "TraceEntry", "families", "family_named",
           "family_for", "config_from_dict"]


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


def family_for(config) -> Family:
    """The family of a config object, a config dict, or a ``model`` name."""
    model = config if isinstance(config, str) else (
        config.get("model") if isinstance(config, dict) else getattr(config, "model", None))
    known = _by_model()
    if model not in known:
        raise ValueError(f"config.model: expected one of {sorted(known)}, got {model!r}")
    return known[model]


def config_from_dict(d):
    """A config dict -> the frozen config of its family (validated)."""
    if not isinstance(d, dict):
        raise ValueError(f"config: expected a dict, got {type(d).__name__}")
    return family_for(d.get("model", "ntm")).config_from_dict(d)
