"""The model-family seam: a family is an abstract class (a subclass that leaves a method
out cannot be made), an unknown model is one clear line, and every batched form, bug and
variant of the registered families uses only the ops-table operations it declares.

A family in a package of its own, through every seam: ``tests/models/test_external_family.py``.
"""

import pytest

from diffmem import models
from diffmem.models.family import Family


def test_an_unknown_model_is_one_clear_error():
    with pytest.raises(ValueError, match=r"config.model: expected one of .*'ntm'.*got 'lsm'"):
        models.bind({"model": "lsm"})


def test_a_family_must_define_every_method():
    class Half(Family):
        name = "half"

        def param_shapes(self, cfg):
            return {}
    with pytest.raises(TypeError, match="abstract"):
        Half()


class _Only:
    """An ops table that has only the named operations of another: a batched form that
    uses an undeclared one fails here with AttributeError."""

    def __init__(self, table, names):
        self._table, self._names = table, frozenset(names)

    def __getattr__(self, name):
        if name not in self._names:
            raise AttributeError(f"{name} (not declared in OPS)")
        return getattr(self._table, name)


def _forms(fam):
    yield fam.batched
    yield from fam.bugs().values()
    yield from fam.variants().values()


@pytest.mark.parametrize("family", sorted(models.families()))
def test_each_batched_form_uses_only_the_operations_it_declares(family):
    import torch

    from diffmem.backends.torch import TorchOps, to_tensors
    from diffmem.backends.torch.driver import run_model
    fam = models.family_named(family)
    # A time-loop form runs 3 steps of one sequence; a whole-sequence form (run_sequence:
    # delta/1's chunked algorithm, whose config fixes B and, under cu_seqlens, T) the case.
    whole = hasattr(fam.batched, "run_sequence")
    cut = (lambda a: a) if whole else (lambda a: a[:1, :3])
    seen, cases = set(), []
    for case in fam.cases():   # one case per distinct config: what a form uses depends on it
        if case.missing is None:
            cfg, params, inputs, targets, mask, _ = case.build()
            if cfg not in seen:
                seen.add(cfg)
                cases.append((cfg, params, cut(inputs), cut(targets), cut(mask)))
    for form in _forms(fam):
        assert fam.ops <= form.OPS, form.__name__
        for cfg, params, inputs, targets, mask in cases:
            net = form(_Only(TorchOps(), form.OPS), cfg)
            p = to_tensors(params, dtype="float64")
            x, z, m = (torch.as_tensor(a) for a in (inputs, targets, mask))
            run_model(net, p, x, z, m, want_trace=True)
