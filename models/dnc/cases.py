"""The DNC's fixture catalogue (DNC.md "Fixture catalogue"), its held-out draws, the exact
ties each case promises and the admission rule against near-ties.

Every case is a pure function of its ``CaseSpec`` (config, parameter regime and seed,
data task and seed), so ``diffmem fixtures generate`` rebuilds byte-identical files.
Small on purpose (DNC.md's default sizes, B = 2, T = 16; T = 100 only for the long
case): the ``link`` and ``memory`` traces are [B, T, N, N] and [B, T, N, W].

**Promises** (``PROMISES``, DNC.md "Exact ties"), checked bitwise on the reference's float64
*and* float32 runs when a fixture is generated (``FixtureCase.check``):

- ``step0`` (tie 1, every case): u_0 = 0 in every row and a_0 = e_0;
- ``zero-state`` (tie 2): cw_0 equal in every row, ww_0, M_0, cr_0 and psi_1 equal in
  rows 1..N-1, and u_1 an (N-1)-way tie at a value x in (0, 1);
- ``dup`` (tie 3): u_1[2] == u_1[5] with live terms, P_j (1 - u) > 1e-3 at the first;
- ``freed`` (tie 4): a row with psi = 0 and u = 0 exactly, beside another u = 0 row;
- ``full`` (tie 5): usages exactly 0 or 1 at every step, ww = a one-hot until every row
  is full, then a = 0;
- ``sharp`` (tie 6): every gate exactly 0 or 1 and every read mode one-hot (an LSTM unit
  whose output gate is 0 reads exactly 0: the exact halves and thirds that gives are
  allowed); both 0 and 1 occur;
- ``extreme``: |y| > 50 somewhere.

**Admission** (DNC.md "Admission rule against near-ties"; ``admission_failure``), on
every step and batch row, for fixtures and held-out draws alike: (a) the float32 run's
free lists equal the float64 run's; (b) adjacent usages of the float64 free list closer
than the near-tie gap (but not equal) have swap sensitivity P_j (1 - u[phi_j])^2 below
``SENSITIVITY``; (c) a tie at a value other than exactly 0 or 1 does not outlive the
step it arises in.

The near-tie gap is not DNC.md's first guess, a fixed 1e-4 (its open question 1): with
zero initial memory (tie 2) the (N-1)-way tie at x <= 1/N is split at t = 1 by the
allocation's terms (1 - x) x^j, so at t = 2 the rows deepest in that free list differ by
about g x^(N-2) (~1e-8 for N = 8) and lead the next free list (P_0 = 1): no seed of an
N = 8 zero-state case passes a fixed 1e-4, nor three in four random-state ones.  What
float32 can resolve is what matters, so the gap is measured in float32's own terms:
``GAP_REL`` times the larger usage (a few float32 ulps), or ``K_GAP`` times the
reference's own float32 error in that gap (the difference of the two rows' errors: a
shift common to both moves no order), whichever is larger (float32's error grows over a
long sequence, and the gap it needs with it).  Calibrated on the
bundled drivers' float32 runs (models/dnc/README.md).  A held-out seed that fails is redrawn (``heldout``); a catalogued
seed that fails is refused at generation (choose another: they were chosen so).

**In a low-precision mode** (DNC.md "Numerics", open question 2) the same rule is applied
to the mode's emulated runs with the relative gap scaled by eps_mode / eps_32
(``mode_admission_break``).  It admits few cases (3 of the 15 fixtures in each mode), so
dnc/1 takes the spec's alternative: past the first step the rule breaks at, the case's
tensors are held to the noise bound only, and the float64 run must check them
(``noise_from``, the family's ``Family.noise_from``; models/dnc/README.md).
"""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, field

import numpy as np

from diffmem.models.family import FixtureCase, NoiseFrom, untiled
from diffmem.models.tasks import fit_case_data
from diffmem.reference.precision import LOW_PRECISION, PRODUCT_RESULTS

from . import reference
from . import tasks
from .config import DNCConfig
from .layout import ALLOCATION
from .params import DUP_ROWS, REGIMES, init_params

# Admission thresholds (DNC.md open question 1; set by calibration: models/dnc/README.md).
GAP_REL = 2.0 ** -22      # a near tie: closer than ~2 float32 ulps of the larger usage ...
K_GAP = 8.0               # ... or than 8 times the reference's float32 error in the gap
SENSITIVITY = 1e-7        # DNC.md's: P_j (1 - u[phi_j])^2 of a pair that may swap
LIVE_TIE = 1e-3           # tie 3: P_j (1 - u) at the first tied row
HELDOUT_ATTEMPTS = 50     # redraws before a held-out draw gives up (never seen near it)

INIT_REGIMES = ("init", "extreme_logits")   # zero init.memory / init.read: tie 2


# ------------------------------------------------------------------ configs

def _cfg(X=6, Y=4, controller="feedforward", H=12, N=8, W=4, R=2, loss="bce"):
    return dict(input_size=X, output_size=Y, controller_size=H, memory_rows=N,
                memory_width=W, read_heads=R, controller=controller, loss=loss, model="dnc")


FF = _cfg()
LSTM = _cfg(controller="lstm")
# Zero initial state (tie 2) at N = 6, not the default 8: the (N-1)-way tie at x <= 1/N
# splits into gaps of about g x^(N-2) at t = 2, below float32's resolution for N = 8
# (~1e-8: the float32 reference's own error in the gap is half of it), so no admission
# rule float32 can live with admits an N = 8 zero-state case (models/dnc/README.md).
FF_ZERO = _cfg(N=6)
LSTM_ZERO = _cfg(controller="lstm", N=6)


@dataclass(frozen=True)
class Data:
    task: str
    batch_size: int
    lo: int                     # make_batch draws each sequence's knob from [lo, hi]
    hi: int
    seed: int
    options: dict = field(default_factory=dict)
    pad_to: int | None = None   # zero-mask padding to a shared T


@dataclass(frozen=True)
class CaseSpec:
    name: str
    description: str
    config: dict
    data: Data
    regime: str
    param_seed: int
    ties: tuple = ()            # promises beyond ``step0`` (every case)
    tags: tuple = ()


def _copy(seed, B=2, lo=2, hi=7, pad_to=16):
    return Data("copy", B, lo, hi, seed, {"width": 4}, pad_to)


def _random(seed, B=2, lo=8, hi=16, pad_to=16, X=6, Y=4):
    return Data("random", B, lo, hi, seed, {"input_size": X, "output_size": Y}, pad_to)


# dnc-copy-ff-free's seed: the freeing is exact (psi = 0) only where the read weighting is
# exactly one-hot, and the bundled JAX backend's compiled float32 gradient program returns
# 1 - 2^-24 for a one-hot content softmax on most seeds (XLA's exp / division), leaving
# u ~ 2e-8 where the reference has 0 and flipping the tie with another freed row; 5005 is
# the first seed of the case's sequence (5 + 1000 k) that passes the admission rule on
# which it frees exactly (its gradients still differ there: models/dnc/README.md).
SPECS = (
    CaseSpec("dnc-copy-ff-init", "copy, the paper's zero initial state: an (N-1)-way usage "
             "tie at t = 1", FF_ZERO, _copy(1), "init", 1, ("zero-state",),
             ("copy", "feedforward", "init", "zero-state", "ragged")),
    CaseSpec("dnc-copy-lstm-init", "copy, LSTM, zero initial state", LSTM_ZERO, _copy(2), "init",
             2, ("zero-state",), ("copy", "lstm", "init", "zero-state", "ragged")),
    CaseSpec("dnc-random-ff-state", "random init.memory and init.read: tie 1 only, soft "
             "everything, ragged", FF, _random(3, lo=9), "state", 3, (),
             ("random", "feedforward", "state", "ragged")),
    CaseSpec("dnc-random-ff-dup", "init.memory rows 2 and 5 equal: a 2-way usage tie at "
             "t = 1 with live gradients", FF, _random(4, lo=16), "dup", 2004, ("dup",),
             ("random", "feedforward", "dup")),
    CaseSpec("dnc-copy-ff-free", "free gates exactly 1 on one-hot content reads: usage "
             "exactly 0 by freeing", FF, _copy(5), "free", 5005, ("freed",),
             ("copy", "feedforward", "free", "ragged")),
    CaseSpec("dnc-copy-lstm-full", "write and allocation gates exactly 1, no freeing: "
             "usages exactly 0 or 1, memory full", LSTM, _copy(6, lo=5, hi=7), "full", 6,
             ("full",), ("copy", "lstm", "full", "ragged")),
    CaseSpec("dnc-repeat-copy-lstm-sharp", "repeat copy, every gate and read mode a switch",
             _cfg(6, 5, "lstm"), Data("repeat_copy", 2, 1, 3, 7,
                                      {"width": 4, "max_repeats": 3}, 16),
             "sharp", 7, ("sharp",), ("repeat_copy", "lstm", "sharp", "ragged")),
    CaseSpec("dnc-random-ff-r3", "three read heads, N = 6: psi over three heads",
             _cfg(N=6, R=3), _random(8, lo=16), "init", 8, ("zero-state",),
             ("random", "feedforward", "init", "zero-state", "multihead")),
    CaseSpec("dnc-random-ff-n1", "a single row: the link is always 0", _cfg(N=1),
             _random(9, lo=16), "init", 9, (), ("random", "feedforward", "init", "n1")),
    CaseSpec("dnc-random-lstm-n2", "two rows and one read head, sharp: the link has one "
             "entry each way", _cfg(controller="lstm", N=2, R=1), _random(10, lo=16),
             "sharp", 10, ("sharp",), ("random", "lstm", "sharp", "n2")),
    CaseSpec("dnc-associative-recall-lstm-init", "associative recall (width 4, items of 2)",
             LSTM_ZERO, Data("associative_recall", 2, 2, 3, 11, {"width": 4, "item_len": 2}, 16),
             "init", 11, ("zero-state",),
             ("associative_recall", "lstm", "init", "zero-state", "ragged")),
    CaseSpec("dnc-priority-sort-ff-extreme", "priority sort, output layer x100: |y| > 50",
             _cfg(7, 4, N=6), Data("priority_sort", 2, 3, 6, 12, {"width": 4, "n_out": 4}, 16),
             "extreme_logits", 12, ("zero-state", "extreme"),
             ("priority_sort", "feedforward", "extreme_logits", "zero-state", "ragged")),
    # N = 10 rows with a zero state splits ties below float32's resolution (see FF_ZERO):
    # random init.memory / init.read instead (tie 1 only).
    CaseSpec("dnc-serial-copy-ff-init", "serial copy, 3 sequences of 3 through N = 10 rows: "
             "memory reuse; random initial memory", _cfg(8, 6, N=10, R=1),
             Data("serial_copy", 2, 3, 3, 13, {"width": 6, "seq_len": 3}, None),
             "state", 13, (), ("serial_copy", "feedforward", "state")),
    CaseSpec("dnc-random-lstm-long", "T = 100: float32 error growth over time",
             LSTM_ZERO, _random(14, B=1, lo=100, hi=100, pad_to=None), "init", 14, ("zero-state",),
             ("random", "lstm", "init", "zero-state", "long")),
    CaseSpec("dnc-copy-ff-softmax", "copy, the softmax loss", _cfg(N=6, loss="softmax"),
             _copy(15), "init", 15, ("zero-state",),
             ("copy", "feedforward", "init", "zero-state", "softmax", "ragged")),
)


# ------------------------------------------------------------------ building

def _data(d: Data, cfg: DNCConfig):
    rng = np.random.default_rng(d.seed)
    inputs, targets, mask, lengths = tasks.make_batch(d.task, rng, d.batch_size, d.lo, d.hi,
                                                      **d.options)
    inputs, targets, mask = fit_case_data(
        inputs, targets, mask, pad_to=d.pad_to, task=d.task, options=d.options,
        sizes=tasks.task_sizes(d.task, **d.options), expected=(cfg.X, cfg.Y),
        who="dnc catalogue")
    return inputs, targets, mask, [int(n) for n in lengths]


def summary(cfg: DNCConfig) -> str:
    """One line for ``diffmem fixtures list``."""
    ctrl = "lstm" if cfg.controller == "lstm" else "ff"
    return (f"dnc {ctrl} {cfg.loss} X={cfg.X} Y={cfg.Y} H={cfg.H} N={cfg.N} W={cfg.W} "
            f"R={cfg.R}")


def build(spec: CaseSpec):
    """(config, params, inputs, targets, mask, meta) of one case, from its spec alone."""
    cfg = DNCConfig.from_dict(spec.config)
    params = init_params(cfg, spec.param_seed, spec.regime)
    inputs, targets, mask, lengths = _data(spec.data, cfg)
    d = spec.data
    meta = {
        "description": spec.description,
        "summary": summary(cfg),
        "tags": list(spec.tags),
        "regime": spec.regime,
        "seeds": {"params": spec.param_seed, "data": d.seed},
        "params_source": f"init_params(seed={spec.param_seed}, regime={spec.regime!r})",
        "ties": ["step0", *spec.ties],
        "admission": {"gap_rel": GAP_REL, "k_gap": K_GAP, "sensitivity": SENSITIVITY},
        "data": {"task": d.task, "options": dict(d.options), "batch_size": d.batch_size,
                 "lo": d.lo, "hi": d.hi, "pad_to": d.pad_to, "lengths": lengths},
    }
    return cfg, params, inputs, targets, mask, meta


# ------------------------------------------------------------------ promises (exact ties)

def _equal_rows(a):
    """Every row of ``a`` [rows, ...] bitwise equal to the first."""
    return bool(np.all(a == a[:1]))


def _step0(cfg, trace):
    u0, a0 = trace["usage"][:, 0], trace["allocation"][:, 0]
    if not (np.all(u0 == 0.0) and np.all(a0 == np.eye(cfg.N)[0])):
        return "u_0 is not 0 in every row or a_0 is not e_0"
    return None


def _zero_state(cfg, trace):
    if cfg.N < 3:
        return None   # no (N-1)-way tie to speak of
    for b in range(trace["usage"].shape[0]):
        if not _equal_rows(trace["write.content"][b, 0, 0]):
            return f"batch row {b}: cw_0 is not equal in every row"
        rest = {"write.weight": trace["write.weight"][b, 0, 0, 1:],
                "memory": trace["memory"][b, 0, 1:],
                "read.content": np.swapaxes(trace["read.content"][b, 0], 0, 1)[1:],
                "retention": trace["retention"][b, 1, 1:],
                "usage": trace["usage"][b, 1, 1:]}
        for name, rows in rest.items():
            if not _equal_rows(rows):
                return f"batch row {b}: {name} is not equal in rows 1..N-1"
        x = float(trace["usage"][b, 1, 1])
        if not 0.0 < x < 1.0:
            return f"batch row {b}: the tied u_1 = {x} is not in (0, 1)"
    return None


def exclusive_products(u_sorted):
    """P_j = PROD_{i<j} u[phi_i] of usages in free-list order (float64, [..., N])."""
    P = np.ones_like(u_sorted)
    P[..., 1:] = np.cumprod(u_sorted[..., :-1], axis=-1)
    return P


def _dup(cfg, trace):
    p, q = DUP_ROWS
    for b in range(trace["usage"].shape[0]):
        u = trace["usage"][b, 1].astype(np.float64)
        if u[p] != u[q]:
            return f"batch row {b}: u_1[{p}] = {float(u[p])!r} != u_1[{q}] = {float(u[q])!r}"
        order = trace["allocation.order"][b, 1].astype(np.int64)
        j = min(int(np.nonzero(order == p)[0][0]), int(np.nonzero(order == q)[0][0]))
        live = exclusive_products(u[order])[j] * (1.0 - u[p])
        if not live > LIVE_TIE:
            return f"batch row {b}: the tied rows' term P_j (1 - u) = {live:.3g} <= {LIVE_TIE}"
    return None


def _freed(cfg, trace):
    u, psi = trace["usage"], trace["retention"]
    for b in range(u.shape[0]):
        for t in range(1, u.shape[1]):
            zero = u[b, t] == 0.0
            if np.any(zero & (psi[b, t] == 0.0)) and zero.sum() >= 2:
                return None
    return "no step t >= 1 has a row freed to psi = u = 0 exactly beside another u = 0 row"


def _full(cfg, trace):
    u, a, ww = trace["usage"], trace["allocation"], trace["write.weight"][:, :, 0]
    if not np.all((u == 0.0) | (u == 1.0)):
        return "a usage is neither exactly 0 nor exactly 1"
    full = np.all(u == 1.0, axis=-1)
    if not full.any():
        return "memory never gets full"
    eye = np.eye(cfg.N)
    for b in range(u.shape[0]):
        for t in range(u.shape[1]):
            if full[b, t]:
                if not np.all(a[b, t] == 0.0):
                    return f"batch row {b}, t = {t}: memory is full but a != 0"
            elif not (np.all(ww[b, t] == a[b, t]) and any(np.all(a[b, t] == e) for e in eye)):
                return f"batch row {b}, t = {t}: ww = a is not one-hot"
    return None


def _sharp(cfg, trace):
    exact = (0.0, 1.0) if cfg.controller == "feedforward" else (0.0, 1.0, 0.5, 1.0 / 3.0)
    for name in ("free_gate", "allocation_gate", "write_gate", "read.mode"):
        values = trace[name]
        allowed = np.isin(values, np.asarray(exact, dtype=values.dtype))
        if not allowed.all():
            return f"{name} = {float(values[~allowed][0])!r} is not a switch's value"
    gates = np.concatenate([trace[n].ravel() for n in ("free_gate", "allocation_gate",
                                                       "write_gate")])
    if not ((gates == 0.0).any() and (gates == 1.0).any()):
        return "the gates never switch both ways"
    return None


def _extreme(cfg, run):
    peak = float(np.abs(run["logits"]).max())
    return None if peak > 50 else f"the largest |logit| is {peak:.1f}, not > 50"


PROMISES = {"step0": _step0, "zero-state": _zero_state, "dup": _dup, "freed": _freed,
            "full": _full, "sharp": _sharp}


def broken_promise(cfg, runs: dict, ties) -> str | None:
    """Why the reference's runs ({"float64": run, "float32": run}) break one of ``ties``
    (exact in both precisions), or None."""
    for dtype in ("float64", "float32"):
        if dtype not in runs:
            continue
        for tie in ties:
            why = (_extreme(cfg, runs[dtype]) if tie == "extreme"
                   else PROMISES[tie](cfg, runs[dtype]["trace"]))
            if why:
                return f"{tie} ({dtype}): {why}"
    return None


# ------------------------------------------------------------------ admission

def admission_failure(cfg, run64: dict, run32: dict, gap_rel=GAP_REL, k_gap=K_GAP,
                      sensitivity=SENSITIVITY, label="float32"):
    """Why the pair of reference runs (float64 and float32, with traces) breaks DNC.md's
    admission rule against near-ties, or None: one line naming the rule, the batch row,
    the step and the rows.  ``run32`` may be another precision's run (``label`` names it
    in the line): a low-precision mode's emulated run (``mode_admission_break``)."""
    found = admission_break(cfg, run64, run32, gap_rel, k_gap, sensitivity, label)
    return None if found is None else found[1]


def admission_break(cfg, run64: dict, run32: dict, gap_rel=GAP_REL, k_gap=K_GAP,
                    sensitivity=SENSITIVITY, label="float32"):
    """(t, why) of the first step at which the runs break the admission rule (the lowest
    batch row there), or None; ``admission_failure``'s arguments."""
    u64 = run64["trace"]["usage"]
    err32 = run32["trace"]["usage"].astype(np.float64) - u64   # the lower precision's own error
    order64 = run64["trace"]["allocation.order"].astype(np.int64)
    order32 = run32["trace"]["allocation.order"].astype(np.int64)
    B, T, N = u64.shape
    for t in range(T):
        for b in range(B):
            why = _step_break(u64[b, t], err32[b, t], order64[b, t], order32[b, t],
                              u64[b, t - 1] if t >= 1 else None, gap_rel, k_gap,
                              sensitivity, label)
            if why:
                return t, f"{why[:3]} batch row {b}, t = {t}: {why[4:]}"
    return None


def _step_break(u, err, order64, order32, u_prev, gap_rel, k_gap, sensitivity, label):
    """The rule on one step of one sequence: "(x) what", or None."""
    # (a) the lower precision sorts as float64 does
    if not np.array_equal(order64, order32):
        j = int(np.nonzero(order64 != order32)[0][0])
        return (f"(a) {label}'s free list differs from float64's at position {j} (rows "
                f"{int(order32[j])} and {int(order64[j])})")
    # (b) near-ties only where swapping them changes nothing that matters
    us = u[order64]
    P = exclusive_products(us)
    d = np.diff(us)
    # the lower precision's error in each gap itself (a shift common to both rows moves
    # no order)
    gap_err = np.abs(np.diff(err[order64]))
    gap = np.maximum(gap_rel * np.abs(us[1:]), k_gap * gap_err)
    swap = P[:-1] * (1.0 - us[:-1]) ** 2
    bad = np.nonzero((d > 0) & (d < gap) & (swap >= sensitivity))[0]
    if bad.size:
        j = int(bad[0])
        return (f"(b) rows {int(order64[j])} and {int(order64[j + 1])} are {d[j]:.3g} apart "
                f"(< {gap[j]:.3g}) with swap sensitivity {swap[j]:.3g} (>= {sensitivity:g})")
    # (c) a tie away from 0 and 1 does not outlive its step
    if u_prev is not None:
        why = _lasting_tie(u_prev, u)
        if why:
            return f"(c) {why}"
    return None


def _lasting_tie(u_prev, u):
    for p in range(len(u)):
        for q in range(p + 1, len(u)):
            if (u[p] == u[q] and u[p] not in (0.0, 1.0)
                    and u_prev[p] == u_prev[q] and u_prev[p] not in (0.0, 1.0)):
                return (f"rows {p} and {q} stay tied at usage {float(u[p])!r} (and "
                        f"{float(u_prev[p])!r} the step before)")
    return None


# The modes' unit roundoff of a product operand against float32's (DNC.md open question
# 2: in a mode the near-tie gap's relative part is scaled by eps_mode / eps_32).
UNIT_ROUNDOFF = {"float32": 2.0 ** -24, "tf32": 2.0 ** -11, "bfloat16": 2.0 ** -8,
                 "float16": 2.0 ** -11}


def mode_styles(mode):
    """The emulated runs a mode's baseline is made of (docs/precision.md): tf32's
    products are float32; bf16 / fp16 kernels return the format or keep float32."""
    return ("format",) if mode == "tf32" else PRODUCT_RESULTS


def mode_admission_break(cfg, params, inputs, targets, mask, run64, mode):
    """(t, why) of the first step at which ``mode``'s emulated runs (forward only, each
    style of docs/precision.md) break the admission rule against the float64 run
    ``run64`` (with its trace), or None (DNC.md "Numerics", last bullet): the near-tie
    gap's relative part scaled by eps_mode / eps_32 (open question 2), its error part
    measured on the emulated run itself."""
    gap_rel = GAP_REL * UNIT_ROUNDOFF[mode] / UNIT_ROUNDOFF["float32"]
    first = None
    for style in mode_styles(mode):
        run = reference.run_batch(cfg, params, inputs, targets, mask, dtype=mode,
                                  want_trace=True, want_grads=False, product_results=style)
        label = mode if mode == "tf32" else f"{mode} ({style} products)"
        found = admission_break(cfg, run64, run, gap_rel=gap_rel, label=label)
        if found is not None and (first is None or found[0] < first[0]):
            first = (found[0], f"its emulated {label} run breaks the admission rule: "
                               f"{found[1]}")
    return first


_NOISE = {}   # id(case) -> (weak reference to the case, {mode: NoiseFrom or None})


def noise_from(case, dtype):
    """``Family.noise_from``: DNC.md open question 2's alternative.  In a low-precision
    mode a case whose emulated run breaks the admission rule at step t0 (a near-tie the
    mode cannot resolve: a correct kernel may sort those rows either way) is checked up to
    the allocation of t0; from there on (the allocation and every later stage of t0, every
    later step, the outputs and the gradients) its tensors are held to the noise bound
    only and the float64 run of the same kernel must check their values.  float64 and
    float32 never (their admission was settled when the case was made).  Worked out once
    per case and mode, from the case's data and its stored float64 run."""
    if dtype not in LOW_PRECISION:
        return None
    held = _NOISE.get(id(case))
    if held is None or held[0]() is not case:
        if len(_NOISE) > 256:   # cases of a finished check: forget them
            _NOISE.clear()
        held = _NOISE[id(case)] = (weakref.ref(case), {})
    if dtype not in held[1]:
        found = mode_admission_break(case.model.config, case.params, case.inputs,
                                     case.targets, case.mask, case.expected["float64"], dtype)
        held[1][dtype] = None if found is None else NoiseFrom(found[0], ALLOCATION, found[1])
    return held[1][dtype]


def admit(cfg, params, inputs, targets, mask):
    """The admission rule on fresh reference runs (no gradients); why not, or None."""
    runs = {d: reference.run_batch(cfg, params, inputs, targets, mask, dtype=d,
                                   want_trace=True, want_grads=False)
            for d in ("float64", "float32")}
    return admission_failure(cfg, runs["float64"], runs["float32"])


def check_case(spec: CaseSpec, runs: dict):
    """``FixtureCase.check``: the case's promises and the admission rule; ValueError with
    one line if either is broken."""
    cfg = DNCConfig.from_dict(spec.config)
    why = broken_promise(cfg, runs, ("step0",) + tuple(spec.ties))
    if why is None and "float32" in runs:
        why = admission_failure(cfg, runs["float64"], runs["float32"])
    if why:
        raise ValueError(f"dnc case {spec.name}: {why}; choose another param_seed")


def case_of(spec: CaseSpec) -> FixtureCase:
    d = spec.data
    return FixtureCase(spec.name, spec.description, functools.partial(build, spec), spec.tags,
                       functools.partial(check_case, spec),
                       cost=d.batch_size * max(d.hi, d.pad_to or 0))


def cases() -> tuple:
    """The fixture catalogue, in order."""
    return tuple(case_of(s) for s in SPECS)


# ------------------------------------------------------------------ held-out draws

SHAPES = ("wide-batch", "many-heads", "long", "big-memory")
ZERO_STATE_MAX_ROWS = 6   # zero-state draws split ties below float32's resolution beyond


def _sizes(shape, rng):
    def pick(lo, hi):   # never a multiple of a common tile (batch, steps, rows)
        return untiled(rng, lo, hi)
    if shape == "wide-batch":    # 33: a remainder over tiles of 16 and 32
        return dict(B=33, T=pick(3, 6), N=pick(2, 12), R=pick(1, 2))
    if shape == "many-heads":
        return dict(B=pick(2, 5), T=pick(4, 10), N=pick(4, 10), R=3)
    if shape == "long":
        return dict(B=pick(1, 2), T=pick(40, 64), N=pick(3, 8), R=pick(1, 2))
    # big-memory: rows leaving a remainder over tiles of 16, 32 and 64
    return dict(B=pick(1, 2), T=pick(3, 6), N=int(rng.choice([17, 33, 65])), R=pick(1, 2))


def draw(seed: int, index: int, attempt: int = 0) -> dict:
    """The plain description of draw ``attempt`` of held-out case ``index`` of ``seed``
    (no arrays); the shape is the index's, everything else is drawn again per attempt."""
    rng = np.random.default_rng([int(seed), int(index), 0xD0C, int(attempt)])
    shape = SHAPES[index % len(SHAPES)]
    s = _sizes(shape, rng)
    config = _cfg(X=int(rng.integers(1, 7)), Y=int(rng.integers(1, 6)),
                  controller=str(rng.choice(["feedforward", "lstm"])),
                  H=int(rng.integers(2, 17)), N=s["N"], W=int(rng.integers(1, 9)), R=s["R"],
                  loss=str(rng.choice(["bce", "softmax"])))
    regimes = [r for r in REGIMES
               if (r != "dup" or s["N"] > max(DUP_ROWS))
               and (r not in INIT_REGIMES or s["N"] <= ZERO_STATE_MAX_ROWS)]
    regime = regimes[int(rng.integers(len(regimes)))]
    short = "lstm" if config["controller"] == "lstm" else "ff"
    name = (f"dnc-heldout-{seed}-{index}-{shape}-{short}-{config['loss']}-B{s['B']}-T{s['T']}"
            f"-N{s['N']}-W{config['memory_width']}-R{s['R']}-{regime}")
    return {"name": name, "seed": int(seed), "index": int(index), "attempt": int(attempt),
            "shape": shape, "config": config, "batch": s["B"], "steps": s["T"],
            "regime": regime}


def _draw_arrays(d: dict):
    rng = np.random.default_rng([d["seed"], d["index"], 1, d["attempt"]])
    cfg = DNCConfig.from_dict(d["config"])
    params = init_params(cfg, int(rng.integers(2**31)), d["regime"])
    B, T = d["batch"], d["steps"]
    inputs = rng.standard_normal((B, T, cfg.X))
    if cfg.loss == "bce":
        targets = rng.uniform(size=(B, T, cfg.Y))
    else:
        targets = np.eye(cfg.Y)[rng.integers(cfg.Y, size=(B, T))]
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T   # at least one full-length sequence
    mask = (np.arange(T)[None, :] < lengths[:, None]) * rng.uniform(0.5, 2.0, size=(B, T))
    return cfg, params, inputs, targets, mask


@functools.lru_cache(maxsize=64)
def admitted_draw(seed: int, index: int):
    """(description, arrays, refusals) of the first admitted draw of held-out case
    ``index`` of ``seed`` (DNC.md: a seed that fails is redrawn; the whole draw is, its
    shape kept)."""
    refused = []
    for attempt in range(HELDOUT_ATTEMPTS):
        d = draw(seed, index, attempt)
        arrays = _draw_arrays(d)
        why = admit(*arrays)
        if why is None:
            return d, arrays, tuple(refused)
        refused.append(f"{d['name']}: {why}")
    raise ValueError(f"dnc held-out case {index} of seed {seed}: no admitted draw in "
                     f"{HELDOUT_ATTEMPTS} attempts (the last: {refused[-1]})")


def _build_heldout(seed, index):
    d, (cfg, params, inputs, targets, mask), refused = admitted_draw(seed, index)
    meta = {"heldout": {k: d[k] for k in ("seed", "index", "shape", "attempt")},
            "regime": d["regime"], "refused": list(refused)}
    return (cfg, {k: v.copy() for k, v in params.items()}, inputs.copy(), targets.copy(),
            mask.copy(), meta)


def heldout(seed: int, index: int) -> FixtureCase:
    """Held-out case ``index`` of ``seed``: the first admitted draw (its name needs the
    admission run: float64 and float32 forward passes, well under a second)."""
    d = admitted_draw(int(seed), int(index))[0]
    return FixtureCase(d["name"], f"held-out {d['shape']} case",
                       functools.partial(_build_heldout, int(seed), int(index)),
                       (d["shape"], d["regime"]), cost=d["batch"] * d["steps"])
