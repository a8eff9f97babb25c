"""The kernel-bug catalogues of every family: every bug must be caught on the bundled
fixtures (its own family's), and
forward bugs must be localised to the stage where they live (HARNESS.md section 4).

One test per bug, so `pytest -n auto` spreads them; each worker loads the fixtures
once.  A bug is run through the same ``run_case`` as ``diffmem check`` with the torch
driver, float64 first, then float32, on the cases that carry its tags first.
"""

import pytest

from diffmem.models.family import GRADIENT_ONLY, LOSS
from diffmem.models.ntm.reference.layout import STAGES
from diffmem.models.ntm.batched import BatchedNTM
from diffmem.backends.protocol import load_backend
from diffmem.harness.bug_hunt import all_bugs, hunt_one
from diffmem.models.ntm.bugs import BUGS
from diffmem.harness.fixture_io import list_cases


@pytest.fixture(scope="module")
def cases():
    return list_cases()


@pytest.mark.parametrize("name", sorted(all_bugs()))
def test_bug_is_caught_and_localised(name, cases):
    verdict = hunt_one(name, cases)
    family, cls = all_bugs()[name]
    assert verdict.caught, (f"{family} bug {name} survived every bundled case in float64 and "
                            f"float32: add a fixture case that exercises it")
    assert verdict.localised, (f"{name} lives in {cls.STAGES} but the harness named "
                               f"{verdict.found_at!r} on {verdict.caught_by}: {verdict.line}")


def test_every_family_has_ten_bugs_with_typed_stages():
    from diffmem.models import families
    for fam in families().values():
        bugs = fam.bugs()
        assert len(bugs) >= 10, fam.name
        for name, cls in bugs.items():
            assert issubclass(cls, fam.batched) and cls.__doc__, name
            assert cls.STAGES and all(s in (LOSS, GRADIENT_ONLY) or s.number < 10**6
                                      for s in cls.STAGES), name


def test_catalogue_is_large_documented_and_one_method_each():
    assert len(BUGS) >= 25
    for name, cls in BUGS.items():
        assert cls.__doc__ and cls.STAGES, name
        overridden = [m for m in vars(cls) if callable(vars(cls)[m]) and hasattr(BatchedNTM, m)]
        assert 1 <= len(overridden) <= 2, (name, overridden)
        assert all(s in (LOSS, GRADIENT_ONLY) or s in STAGES.values() for s in cls.STAGES), name


def test_bug_is_a_backend_by_import_path():
    backend = load_backend("diffmem.models.ntm.bugs:shift_wrong_sign", "cpu", "float64")
    assert backend.name == "torch-cpu-float64[ShiftWrongSign]"
    # The catalogue holds plain classes; the loader wraps any of them by its snake name.
    for name, cls in (("mask_ignored", "MaskIgnored"),
                      ("no_grad_through_memory", "NoGradThroughMemory")):
        wrapped = load_backend(f"diffmem.models.ntm.bugs:{name}", "cpu", "float32")
        assert wrapped.model_cls is BUGS[cls] and wrapped.name == f"torch-cpu-float32[{cls}]"
    with pytest.raises(ValueError, match="has no attribute 'no_such_bug'"):
        load_backend("diffmem.models.ntm.bugs:no_such_bug", "cpu", "float64")
