"""The DNC's fixture catalogue: every exact tie a case promises holds bitwise in the
reference's float64 and float32 runs, a broken promise is refused, the admission rule
refuses constructed near-ties (and only those), and held-out draws are redrawn until
admitted."""

import dataclasses

import numpy as np
import pytest

from diffmem.models.dnc import cases as C
from diffmem.models.dnc import reference as R
from diffmem.models.dnc.config import DNCConfig

CATALOGUE = ("dnc-copy-ff-init", "dnc-copy-lstm-init", "dnc-random-ff-state",
             "dnc-random-ff-dup", "dnc-copy-ff-free", "dnc-copy-lstm-full",
             "dnc-repeat-copy-lstm-sharp", "dnc-random-ff-r3", "dnc-random-ff-n1",
             "dnc-random-lstm-n2", "dnc-associative-recall-lstm-init",
             "dnc-priority-sort-ff-extreme", "dnc-serial-copy-ff-init", "dnc-random-lstm-long",
             "dnc-copy-ff-softmax")


def _runs(spec):
    cfg, p, x, z, m, _ = C.build(spec)
    return cfg, {d: R.run_batch(cfg, p, x, z, m, dtype=d, want_grads=False)
                 for d in ("float64", "float32")}


def test_the_catalogue_is_dnc_md_s_fifteen_cases():
    assert tuple(c.name for c in C.cases()) == CATALOGUE
    ties = {s.name: set(s.ties) for s in C.SPECS}
    for tie in ("zero-state", "dup", "freed", "full", "sharp", "extreme"):
        assert any(tie in t for t in ties.values()), tie
    # both kinds of visibility (DNC.md tie 3): mirror-image ties and value-changing ones
    assert {"zero-state", "dup"} <= set().union(*ties.values())
    assert "dnc-random-ff-state" in ties


@pytest.mark.parametrize("spec", [s for s in C.SPECS if s.name != "dnc-random-lstm-long"],
                         ids=lambda s: s.name)
def test_each_promised_tie_holds_in_float64_and_float32(spec):
    cfg, runs = _runs(spec)
    assert C.broken_promise(cfg, runs, ("step0",) + spec.ties) is None


def test_a_broken_promise_is_refused():
    # the state regime's random memory breaks the zero-state promise: cw_0 is not uniform
    spec = dataclasses.replace(C.SPECS[0], regime="state")
    cfg, runs = _runs(spec)
    with pytest.raises(ValueError, match=r"dnc case dnc-copy-ff-init: zero-state \(float64\): "
                                         r"batch row 0: cw_0 is not equal in every row"):
        C.check_case(spec, runs)


def test_the_dup_promise_is_the_tie_between_rows_2_and_5():
    spec = next(s for s in C.SPECS if s.name == "dnc-random-ff-dup")
    cfg, runs = _runs(spec)
    u1 = runs["float64"]["trace"]["usage"][:, 1]
    assert np.all(u1[:, 2] == u1[:, 5])
    others = np.delete(u1, [2, 5], axis=1)
    assert not np.isin(u1[:, 2], others).any()


# ---------------------------------------------------------------- admission

def _fake(usage64, usage32=None):
    """Reference-run stand-ins holding only what the admission rule reads: usage
    [B, T, N] and the stable free list of each precision's own usages."""
    u64 = np.asarray(usage64, dtype=np.float64)
    u32 = u64.astype(np.float32) if usage32 is None else np.asarray(usage32, np.float32)

    def run(u):
        return {"trace": {"usage": u,
                          "allocation.order": np.argsort(u, axis=-1, kind="stable")
                          .astype(u.dtype)}}
    return run(u64), run(u32)


CFG = DNCConfig(1, 1, memory_rows=3)


def test_admission_accepts_clear_gaps_and_exact_ties_at_zero_and_one():
    r64, r32 = _fake([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.7, 1.0], [0.25, 0.7, 1.0]]])
    assert C.admission_failure(CFG, r64, r32) is None


def test_admission_refuses_a_near_tie_that_matters():
    # (b): 0.3 and 0.3 + 1e-9 lead the free list (P_0 = 1): a swap moves a by 0.49.
    r64, r32 = _fake([[[0.3 + 1e-9, 0.3, 0.9]]], usage32=[[[0.3, 0.3, 0.9]]])
    r32["trace"]["allocation.order"][:] = [1, 0, 2]          # float32 sorted the same
    why = C.admission_failure(CFG, r64, r32)
    assert why.startswith("(b) batch row 0, t = 0: rows 1 and 0 are 1e-09 apart")
    assert "swap sensitivity 0.49" in why


def test_admission_lets_a_near_tie_pass_where_its_swap_changes_nothing():
    # 0.5 and 0.5 + 1e-9 behind three usages of ~1e-3: P_3 (1 - 0.5)^2 = 2.5e-10 < 1e-7,
    # passes; behind two: P_2 (1 - 0.5)^2 = 2.5e-7, refused.
    cfg = DNCConfig(1, 1, memory_rows=5)
    u = [[[1e-3, 1e-3 + 1e-6, 1e-3 + 2e-6, 0.5, 0.5 + 1e-9]]]
    r64, r32 = _fake(u, usage32=u)
    r32["trace"]["allocation.order"][:] = r64["trace"]["allocation.order"]
    assert C.admission_failure(cfg, r64, r32) is None
    u = [[[1e-3, 1e-3 + 1e-6, 0.5, 0.5 + 1e-9, 0.9]]]
    r64, r32 = _fake(u, usage32=u)
    r32["trace"]["allocation.order"][:] = r64["trace"]["allocation.order"]
    assert C.admission_failure(cfg, r64, r32).startswith("(b) batch row 0, t = 0: rows 2 and 3")


def test_admission_refuses_float32_sorting_otherwise():
    r64, r32 = _fake([[[0.2, 0.5, 0.5 + 1e-3]]])
    r32["trace"]["allocation.order"][0, 0] = [0, 2, 1]
    assert C.admission_failure(CFG, r64, r32).startswith(
        "(a) batch row 0, t = 0: float32's free list differs from float64's at position 1")


def test_admission_refuses_a_tie_that_outlives_its_step():
    # (c): rows 1 and 2 tied at 0.4, then at 0.6 (away from 0 and 1): refused; the
    # same rows tied at 0 and then split, or tied at 1 twice, pass.
    r64, r32 = _fake([[[0.1, 0.4, 0.4], [0.2, 0.6, 0.6]]])
    assert C.admission_failure(CFG, r64, r32).startswith(
        "(c) batch row 0, t = 1: rows 1 and 2 stay tied at usage 0.6")
    r64, r32 = _fake([[[0.1, 0.0, 0.0], [0.2, 0.6, 0.7], [0.3, 1.0, 1.0], [0.4, 1.0, 1.0]]])
    assert C.admission_failure(CFG, r64, r32) is None


def test_a_refused_held_out_draw_is_redrawn(monkeypatch):
    C.admitted_draw.cache_clear()
    calls = []

    def refuse_first(*arrays):
        calls.append(arrays[0])
        return "(b) constructed" if len(calls) == 1 else None
    monkeypatch.setattr(C, "admit", refuse_first)
    try:
        case = C.heldout(5, 2)
        *_, meta = case.build()
        assert meta["heldout"]["attempt"] == 1 and meta["refused"][0].endswith("(b) constructed")
        assert case.name == C.draw(5, 2, 1)["name"] and len(calls) == 2
    finally:
        C.admitted_draw.cache_clear()


def test_held_out_draws_cover_tile_remainders_and_three_heads():
    shapes = [C.draw(3, i) for i in range(40)]
    assert {d["config"]["memory_rows"] for d in shapes if d["shape"] == "big-memory"} \
        <= {17, 33, 65}
    assert {d["batch"] for d in shapes if d["shape"] == "wide-batch"} == {33}
    assert {d["config"]["read_heads"] for d in shapes if d["shape"] == "many-heads"} == {3}
    for d in shapes:   # zero-state draws only where their ties stay float32-resolvable
        assert d["regime"] not in C.INIT_REGIMES or d["config"]["memory_rows"] <= 6


def test_a_held_out_case_builds_an_admitted_draw():
    C.admitted_draw.cache_clear()
    cfg, params, inputs, targets, mask, meta = C.heldout(11, 1).build()
    assert C.admit(cfg, params, inputs, targets, mask) is None
    assert inputs.shape[:2] == mask.shape and meta["heldout"]["shape"] == "many-heads"
