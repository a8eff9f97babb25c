"""The golden fixture catalogue: every registered family's cases (``Family.cases()``).

Nothing here knows a model: each family's folder says which cases it has and how each
is built (``models/<family>/cases.py``); this module only gathers them, in family order,
and refuses a name used twice.
"""

from __future__ import annotations

from diffmem.models import families


def _all_cases() -> list:
    return [case for fam in families().values() for case in fam.cases()]


def catalogue() -> dict:
    """name -> FixtureCase of every case that can be generated now, in catalogue order."""
    out = {}
    for case in _all_cases():
        if case.name in out:
            raise ValueError(f"catalogue: case name {case.name!r} used twice")
        if case.missing is None:
            out[case.name] = case
    return out


def skipped() -> list:
    """[(name, why)] of catalogued cases that cannot be built now."""
    return [(c.name, c.missing) for c in _all_cases() if c.missing is not None]


def build(case):
    """(config, params, inputs, targets, mask, meta) of one case."""
    return case.build()


def check_promises(case, runs: dict):
    """What the case promises (a regime's extreme logits, a tie that must occur), checked
    on the reference's runs; ValueError if broken."""
    if case.check is not None:
        case.check(runs)
