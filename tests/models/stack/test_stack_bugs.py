"""Every catalogued bug differs from the reference on at least one fixture case, and its
first diverging trace entry (earliest step, then stage order) is at a stage it declares;
a gradient-only bug has the reference's forward values and different gradients, a loss
bug the reference's trace and a different loss."""

import numpy as np
import pytest

from diffmem.models.family import GRADIENT_ONLY, LOSS
from diffmem.models.stack import reference
from diffmem.models.stack.bugs import BUGS, Bug, bugs
from diffmem.models.stack.cases import cases
from diffmem.models.stack.layout import STAGES, trace_entries

CLOSE = dict(rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def built():
    out = []
    for case in cases():
        cfg, params, x, y, m, meta = case.build()
        out.append((case, (cfg, params, x, y, m),
                    reference.run_batch(cfg, params, x, y, m)))
    return out


def first_divergence(cfg, ref, got):
    """(step, Stage) of the first trace entry that differs, or None."""
    steps = ref["logits"].shape[1]
    for t in range(steps):
        for e in trace_entries(cfg):
            if not np.allclose(got["trace"][e.name][:, t], ref["trace"][e.name][:, t], **CLOSE):
                return t, e.stage
    return None


def grads_differ(ref, got):
    return any(not np.allclose(got["grads"][k], ref["grads"][k], **CLOSE) for k in ref["grads"]) \
        or not np.allclose(got["grad_inputs"], ref["grad_inputs"], **CLOSE)


def test_catalogue_shape():
    names = set(STAGES) | {LOSS, GRADIENT_ONLY}
    assert len(bugs()) >= 10 and list(bugs().values()) == list(BUGS)
    for cls in BUGS:
        assert issubclass(cls, Bug) and cls.STAGES and set(cls.STAGES) <= names, cls
        assert cls.__doc__, cls


@pytest.mark.parametrize("name", sorted(bugs()))
def test_bug_is_caught_at_its_stage(built, name, drivers):
    cls = bugs()[name]
    # cases carrying the bug's NEEDS tags first, as the harness's bug hunt does
    order = sorted(built, key=lambda item: not set(cls.NEEDS) <= set(item[0].tags))
    for case, args, ref in order:
        got = drivers["torch"](cls, *args)
        cfg = args[0]
        where = first_divergence(cfg, ref, got)
        if cls.STAGES == (GRADIENT_ONLY,):
            if where is None and grads_differ(ref, got):
                np.testing.assert_allclose(got["loss"], ref["loss"], **CLOSE)
                return
            assert where is None, (name, case.name, where)
        elif cls.STAGES == (LOSS,):
            if where is None and not np.allclose(got["loss"], ref["loss"], **CLOSE):
                return
            assert where is None, (name, case.name, where)
        elif where is not None:
            assert where[1] in cls.STAGES, (name, case.name, where)
            return
    pytest.fail(f"bug {name} is not caught by any fixture case")
