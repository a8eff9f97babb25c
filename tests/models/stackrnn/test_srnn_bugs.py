"""Every catalogued bug differs from the reference, and first where it says: the earliest
diverging step, then the first diverging trace entry in stage order, is at its declared
stage; a loss bug leaves the trace alone; a gradient-only bug leaves the forward pass
alone and changes gradients."""

import numpy as np
import pytest

from diffmem.models.family import GRADIENT_ONLY, LOSS
from diffmem.models.stackrnn import FAMILY

CASES = {c.name: c for c in FAMILY.cases()}
# Between them: both action sets, k = 1 and 2, K = 2 and 3, shallow stacks, ragged,
# saturated actions (an action weight exactly 0).
PROBE = ("stackrnn-anbn-noop-sharp", "stackrnn-random-shallow-pushpop",
         "stackrnn-random-shallow-noop-k1", "stackrnn-anbn-noop-saturated",
         "stackrnn-random-clip-pinned")
TOL = 1e-8


def _differs(a, b):
    # Written as "not within" so that a NaN where the reference is finite differs.  The
    # bound is relative to the tensor's own scale, as the harness's is: the clip-pinned
    # case's push values are all ~1e-22, and a missing clip changes them by ~100 %.
    return ~(np.abs(a - b) <= TOL * float(np.abs(b).max()) + 1e-300)


def first_divergence(cfg, got, want):
    """(step, Stage, entry name) of the first trace difference, or None."""
    entries = sorted(FAMILY.trace_entries(cfg), key=lambda e: e.stage)
    steps = want["logits"].shape[1]
    for t in range(steps):
        for e in entries:
            if _differs(got["trace"][e.name][:, t], want["trace"][e.name][:, t]).any():
                return t, e.stage, e.name
    return None


@pytest.fixture(scope="module")
def reference_runs():
    out = {}
    for name in PROBE:
        cfg, params, x, y, m, _ = CASES[name].build()
        out[name] = FAMILY.run_reference(cfg, params, x, y, m)
    return out


@pytest.mark.parametrize("bug", list(FAMILY.bugs()))
def test_bug_is_caught_at_its_stage(bug, drivers, reference_runs):
    cls = FAMILY.bugs()[bug]
    stages = set(FAMILY.bind(FAMILY.cases()[0].build()[0]).stages)
    assert all(s in stages | {LOSS, GRADIENT_ONLY} for s in cls.STAGES)
    caught = []
    for name in PROBE:
        case = CASES[name]
        cfg, params, x, y, m, _ = case.build()
        got = drivers["torch"](cls, cfg, params, x, y, m)
        want = reference_runs[name]
        where = first_divergence(cfg, got, want)
        logits_differ = _differs(got["logits"], want["logits"]).any()
        loss_differs = _differs(got["loss"], want["loss"]).any()
        grads_differ = any(_differs(got["grads"][k], want["grads"][k]).any()
                           for k in want["grads"])
        if cls.STAGES == (GRADIENT_ONLY,):
            assert where is None and not logits_differ and not loss_differs, name
            if grads_differ:
                caught.append(name)
        elif cls.STAGES == (LOSS,):
            assert where is None and not logits_differ, name
            if loss_differs:
                caught.append(name)
        elif where is not None:
            assert where[1] in cls.STAGES, (name, where)
            caught.append(name)
        else:
            assert not (logits_differ or loss_differs or grads_differ), name
    assert caught, f"{bug}: no probe case tells it from the reference"
    for tag in cls.NEEDS:   # a case with each needed tag exposes it
        assert any(tag in CASES[n].tags for n in caught), (bug, tag, caught)
