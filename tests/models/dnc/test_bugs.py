"""Every catalogued DNC bug differs from the reference, and first where it says: the
earliest diverging step, then the first diverging trace entry in stage order, is at its
declared stage; a gradient-only bug leaves the forward pass alone and changes gradients.
One cheap case exposes all: the zero state (ties 1 and 2: an N-way tie at t = 0, an
(N-1)-way one at t = 1, cosines 0 before the first write).  The torch driver only; the harness's own hunt over the
bundled fixtures is tests/harness/test_harness_bugs.py."""

import numpy as np
import pytest

from diffmem.harness.fixture_io import list_cases
from diffmem.models.dnc import FAMILY
from diffmem.models.dnc.batched import BatchedDNC
from diffmem.models.dnc.layout import STAGES
from diffmem.models.family import GRADIENT_ONLY

PROBE = ("dnc-copy-ff-init",)
# The bundled fixtures: the cases and the reference's float64 runs.
CASES = {c.name: c for c in list_cases(pattern=",".join(PROBE))}
TOL = 1e-8


def _differs(a, b):
    # "not within", so that a NaN where the reference is finite differs; relative to the
    # tensor's own scale, as the harness's bound is.
    return ~(np.abs(a - b) <= TOL * float(np.abs(b).max()) + 1e-300)


def first_divergence(cfg, got, want):
    """(step, Stage, entry name) of the first trace difference, or None."""
    entries = sorted(FAMILY.trace_entries(cfg), key=lambda e: e.stage)
    for t in range(want["logits"].shape[1]):
        for e in entries:
            if _differs(got["trace"][e.name][:, t], want["trace"][e.name][:, t]).any():
                return t, e.stage, e.name
    return None


def _run(cls, name, drivers):
    c = CASES[name]
    got = drivers["torch"](cls, c.config, c.params, c.inputs, c.targets, c.mask)
    return c.config, got, c.expected["float64"]


def test_the_catalogue_names_dnc_md_s_bugs_and_deepmind_s_five_departures():
    from diffmem.backends.protocol import snake_case
    names = {snake_case(n) for n in FAMILY.bugs()}
    spec = {"unstable_tie_order", "exclusive_product_inclusive", "free_list_not_inverted",
            "cumprod_grad_by_division", "usage_floor_deepmind", "usage_stop_gradient",
            "strength_softplus", "read_modes_deepmind_order", "link_diagonal_kept",
            "precedence_before_link", "directions_swapped", "write_gate_on_allocation_only",
            "usage_from_this_steps_write"}
    deepmind = {"strength_softplus", "cosine_deepmind_eps", "usage_floor_deepmind",
                "usage_stop_gradient", "read_modes_deepmind_order"}
    assert spec | deepmind <= names


@pytest.mark.parametrize("bug", list(FAMILY.bugs()))
def test_bug_overrides_one_method(bug):
    cls = FAMILY.bugs()[bug]
    assert issubclass(cls, BatchedDNC) and cls.__doc__ and cls.STAGES
    overridden = [m for m, v in vars(cls).items() if callable(v) and hasattr(BatchedDNC, m)]
    stages = [m for m in overridden if m != "step"]   # ``step`` only to move a stage
    assert len(stages) == 1 and len(overridden) <= 2, overridden
    assert all(s in STAGES or s == GRADIENT_ONLY for s in cls.STAGES)


@pytest.mark.parametrize("bug", list(FAMILY.bugs()))
def test_bug_is_caught_at_its_stage(bug, drivers):
    cls = FAMILY.bugs()[bug]
    caught = []
    for name in PROBE:
        cfg, got, want = _run(cls, name, drivers)
        where = first_divergence(cfg, got, want)
        logits_differ = _differs(got["logits"], want["logits"]).any()
        grads_differ = any(_differs(got["grads"][k], want["grads"][k]).any()
                           for k in want["grads"])
        if cls.STAGES == (GRADIENT_ONLY,):
            assert where is None and not logits_differ, (name, where)
            if grads_differ:
                caught.append(name)
        elif where is not None:
            assert where[1] in cls.STAGES, (name, where)
            caught.append(name)
        else:
            assert not (logits_differ or grads_differ), name
    assert caught, f"{bug}: no probe case tells it from the reference"
    for tag in cls.NEEDS:   # a case with each needed tag exposes it
        assert any(tag in CASES[n].meta["tags"] for n in caught), (bug, tag, caught)


def test_a_tie_order_bug_is_named_at_step_0_by_the_free_list(drivers):
    """DNC.md: "stage 5 allocation.order at t=0" before any value differs."""
    cfg, got, want = _run(FAMILY.bugs()["UnstableTieOrder"], "dnc-copy-ff-init", drivers)
    t, stage, name = first_divergence(cfg, got, want)
    assert (t, stage.number, name) == (0, 5, "allocation.order")
    assert got["trace"]["allocation.order"][0, 0].tolist() == list(range(cfg.N))[::-1]


def test_the_dividing_cumprod_gives_nan_gradients_only(drivers):
    cfg, got, want = _run(FAMILY.bugs()["CumprodGradByDivision"], "dnc-copy-ff-init", drivers)
    assert not _differs(got["logits"], want["logits"]).any()
    assert all(np.isfinite(v).all() for v in want["grads"].values())
    assert any(np.isnan(v).any() for v in got["grads"].values())
