"""The stack family's fixture catalogue, held-out draws, and the tie census that checks
each case's promises.

Every case is a pure function of its ``CaseSpec`` (config, parameter regime and seed,
random data seed, lengths), so ``diffmem fixtures generate`` rebuilds identical files.
Small on purpose (B = 3, T = 12, m <= 4, H <= 8): a few tens of KB per fixture; two
configs per model, shared by its six cases (one compile per config in JAX).

Coverage: stack, queue and deque; feedforward and LSTM; bce and softmax; ragged masks
and non-binary mask weights; and exact ties of every kind (``TIE_KINDS``), promised per
case and verified on the float64 reference run by ``tie_census``:

- ``push-saturated`` / ``pop-saturated``: a push d or pop u exactly 1.0 or 0.0;
- ``push-half``: d = sigmoid(0) = 0.5 exactly;
- ``popped-to-zero``: a row with s > 0 popped to exactly 0 (s - max(0, u - SUM) == 0);
- ``pop-spent``: the pop's remainder u - SUM at exactly 0 (the inner max's tie);
- ``budget-zero``: the read's budget 1 - SUM at exactly 0;
- ``min-tie``: min(s, budget) with s == budget > 0 exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffmem.models.family import FixtureCase, untiled

from . import reference as R
from .config import StackConfig
from .layout import trace_rows
from .params import REGIMES, init_params

TIE_KINDS = ("push-saturated", "push-half", "pop-saturated", "popped-to-zero", "pop-spent",
             "budget-zero", "min-tie")


@dataclass(frozen=True)
class CaseSpec:
    name: str
    description: str
    config: dict
    regime: str
    param_seed: int
    data_seed: int
    batch: int
    steps: int
    lengths: tuple = ()          # per sequence; () = all T
    mask_weights: bool = False   # scale the mask by U(0.5, 2)
    ties: tuple = ()             # TIE_KINDS this case promises


def _cfg(model, kind):
    """Two configs per model, shared by its cases so that a compiling backend (JAX)
    compiles once per (config, B, T): A = feedforward, bce; B = LSTM, softmax."""
    if kind == "A":
        return dict(input_size=4, output_size=3, controller_size=6, value_size=3,
                    controller="feedforward", loss="bce", model=model)
    return dict(input_size=4, output_size=5, controller_size=8, value_size=4,
                controller="lstm", loss="softmax", model=model)


SHARP_TIES = ("push-saturated", "pop-saturated", "popped-to-zero", "pop-spent",
              "budget-zero", "min-tie")
HALF_TIES = ("push-half", "pop-saturated", "pop-spent", "min-tie")
FULL_TIES = ("push-saturated", "pop-saturated", "popped-to-zero", "pop-spent", "budget-zero",
             "min-tie")
B, T = 3, 12   # every case


def _specs(model, base, half_seed=None):
    """The six cases of one model; ``base`` offsets the seeds (``half_seed``: the half
    case's parameter seed, where base + 5 does not give the promised ties)."""
    name = {"A": "ff-bce", "B": "lstm-softmax"}
    return (
        CaseSpec(f"{model}-{name['A']}-init", f"{model}, feedforward, bce, paper init (pop "
                 "bias -1), ragged", _cfg(model, "A"), "init", base + 1, base + 101, B, T,
                 (12, 9, 5)),
        CaseSpec(f"{model}-{name['B']}-init", f"{model}, LSTM, softmax, paper init, mask "
                 "weights in [0.5, 2], ragged", _cfg(model, "B"), "init", base + 2,
                 base + 102, B, T, (12, 12, 7), True),
        CaseSpec(f"{model}-{name['A']}-sharp", f"{model}, every push and pop a switch "
                 "(exactly 0, 0.5 or 1): rows popped to exactly 0, read budget exactly 0, "
                 "min(s, budget) at s == budget", _cfg(model, "A"), "sharp", base + 3,
                 base + 103, B, T, ties=SHARP_TIES),
        CaseSpec(f"{model}-{name['B']}-sharp", f"{model}, LSTM switches (gates exactly 0/1), "
                 "ragged", _cfg(model, "B"), "sharp", base + 4, base + 104, B, T, (12, 10, 12),
                 ties=SHARP_TIES),
        CaseSpec(f"{model}-{name['B']}-half", f"{model}, push exactly 0.5 every step, "
                 "switched pops: min(s, budget) with s == budget", _cfg(model, "B"), "half",
                 half_seed or base + 5, base + 105, B, T, ties=HALF_TIES),
        CaseSpec(f"{model}-{name['A']}-full", f"{model}, push exactly 1 every step, switched "
                 "pops: budget 0 below the top, pops spent exactly", _cfg(model, "A"), "full",
                 base + 6, base + 106, B, T, (12, 12, 8), ties=FULL_TIES),
    )


SPECS = _specs("stack", 0) + _specs("queue", 10, half_seed=14) + _specs("deque", 20)


# ------------------------------------------------------------------ data

def random_data(cfg: StackConfig, rng, batch, steps, lengths=(), mask_weights=False):
    """inputs N(0, 1); targets random bits (bce) or one-hot symbols (softmax); the mask 1
    up to each sequence's length, 0 after (times U(0.5, 2) when asked)."""
    inputs = rng.standard_normal((batch, steps, cfg.X))
    if cfg.loss == "bce":
        targets = (rng.uniform(size=(batch, steps, cfg.Y)) < 0.5).astype(np.float64)
    else:
        targets = np.eye(cfg.Y)[rng.integers(cfg.Y, size=(batch, steps))]
    lengths = tuple(lengths) or (steps,) * batch
    if len(lengths) != batch or not all(1 <= n <= steps for n in lengths):
        raise ValueError(f"stack cases: lengths {lengths} do not fit batch {batch}, T {steps}")
    mask = (np.arange(steps)[None, :] < np.array(lengths)[:, None]).astype(np.float64)
    if mask_weights:
        mask = mask * rng.uniform(0.5, 2.0, size=mask.shape)
    return inputs, targets, mask, [int(n) for n in lengths]


def summary(cfg: StackConfig) -> str:
    """One line for ``diffmem fixtures list``."""
    ctrl = "lstm" if cfg.controller == "lstm" else "ff"
    return f"{cfg.model} {ctrl} {cfg.loss} X={cfg.X} Y={cfg.Y} H={cfg.H} m={cfg.m}"


def _tags(spec: CaseSpec, cfg: StackConfig):
    tags = [cfg.model, cfg.controller, cfg.loss, spec.regime, "random"]
    if spec.lengths and len(set(spec.lengths)) > 1 or any(n < spec.steps for n in spec.lengths):
        tags.append("ragged")
    if spec.mask_weights:
        tags.append("mask-weights")
    if spec.ties:
        tags.append("ties")
    return tuple(tags) + tuple(spec.ties)


def build(spec: CaseSpec):
    """(config, params, inputs, targets, mask, meta) of one case, from its spec alone."""
    cfg = StackConfig.from_dict(spec.config)
    params = init_params(cfg, spec.param_seed, spec.regime)
    rng = np.random.default_rng(spec.data_seed)
    inputs, targets, mask, lengths = random_data(cfg, rng, spec.batch, spec.steps,
                                                 spec.lengths, spec.mask_weights)
    meta = {
        "description": spec.description,
        "summary": summary(cfg),
        "tags": list(_tags(spec, cfg)),
        "regime": spec.regime,
        "seeds": {"params": spec.param_seed, "data": spec.data_seed},
        "params_source": f"init_params(seed={spec.param_seed}, regime={spec.regime!r})",
        "ties": list(spec.ties),
        "data": {"task": "random", "batch_size": spec.batch, "steps": spec.steps,
                 "lengths": lengths, "mask_weights": spec.mask_weights},
    }
    return cfg, params, inputs, targets, mask, meta


# ------------------------------------------------------------------ ties

def _rows(cfg, strength, t, steps):
    """The rows of step t (1-based; t = 0: none) from one sequence's padded trace."""
    return [] if t == 0 else [float(v) for v in strength[t - 1][trace_rows(cfg, t, steps)]]


def _pop_ties(counts, s, u, sums):
    """Count the ties of one pop (s the rows before it, sums its SUM over the other rows)."""
    for i, si in enumerate(s):
        inner = u - sums[i]
        counts["pop-spent"] += inner == 0.0
        counts["popped-to-zero"] += si > 0.0 and si - float(R.relu_left(inner)) == 0.0


def _read_ties(counts, s, sums):
    for i, si in enumerate(s):
        budget = 1.0 - sums[i]
        counts["budget-zero"] += budget == 0.0
        counts["min-tie"] += si > 0.0 and si == float(R.relu_left(budget))


def tie_census(cfg: StackConfig, run: dict, mask) -> dict:
    """Tie kind -> how many times it occurs in the float64 reference run's trace, over the
    steps up to each sequence's last step of non-zero mask (recomputed with the
    reference's own functions and summation order, so the arguments are the reference's)."""
    counts = dict.fromkeys(TIE_KINDS, 0)
    trace, steps = run["trace"], mask.shape[1]
    for b in range(mask.shape[0]):
        live = np.nonzero(mask[b] > 0)[0]
        for t in range(int(live[-1]) + 1 if live.size else 0):
            for name in trace:
                if name.startswith(("push", "pop")):
                    v = float(trace[name][b, t])
                    kind = name.split(".")[0]
                    counts[f"{kind}-saturated"] += v in (0.0, 1.0)
                    counts["push-half"] += kind == "push" and v == 0.5
            s = _rows(cfg, trace["strength"][b], t, steps)
            if cfg.model == "stack":
                _pop_ties(counts, s, float(trace["pop"][b, t]), R.sums_above(s))
            elif cfg.model == "queue":
                _pop_ties(counts, s, float(trace["pop"][b, t]), R.sums_below(s))
            else:
                u_top, u_bot = float(trace["pop.top"][b, t]), float(trace["pop.bottom"][b, t])
                _pop_ties(counts, s, u_top, R.sums_above(s))
                s1 = [float(v) for v in R.pop_top(s, u_top)]
                _pop_ties(counts, s1, u_bot, R.sums_below(s1))
            s = _rows(cfg, trace["strength"][b], t + 1, steps)
            if cfg.model in ("stack", "deque"):
                _read_ties(counts, s, R.sums_above(s))
            if cfg.model in ("queue", "deque"):
                _read_ties(counts, s, R.sums_below(s))
    return {k: int(v) for k, v in counts.items()}


def _checker(spec: CaseSpec):
    def check(runs):
        run = runs["float64"] if "float64" in runs else runs
        cfg, _, _, _, mask, _ = build(spec)
        counts = tie_census(cfg, run, mask)
        missing = [k for k in spec.ties if counts[k] == 0]
        if missing:
            raise ValueError(f"stack case {spec.name}: promises exact ties {missing}, the "
                             f"float64 reference has none (census {counts}); choose another "
                             f"seed")
    return check


def case_of(spec: CaseSpec) -> FixtureCase:
    cfg = StackConfig.from_dict(spec.config)
    return FixtureCase(name=spec.name, description=spec.description,
                       build=lambda: build(spec), tags=_tags(spec, cfg),
                       check=_checker(spec) if spec.ties else None)


def cases() -> tuple:
    """The fixture catalogue, in order."""
    return tuple(case_of(s) for s in SPECS)


# ------------------------------------------------------------------ held-out draws

def heldout_spec(seed: int, index: int) -> CaseSpec:
    """A random case of shapes no fixture has: B = 33, m 5..8, H 9..16, T 13..40 (deque
    13..24: it holds 2T rows, and the reference's cost grows with their square), every
    model, controller, loss and regime.  T (and the deque's 2T rows) is never a multiple
    of 16 (``untiled``), so a kernel that drops a partial tile fails on every draw."""
    rng = np.random.default_rng([int(seed), int(index), 0x57AC])
    model = str(rng.choice(["stack", "queue", "deque"]))
    controller = str(rng.choice(["feedforward", "lstm"]))
    loss = str(rng.choice(["bce", "softmax"]))
    regime = str(rng.choice(REGIMES))
    steps = untiled(rng, 13, 24 if model == "deque" else 40, times=2 if model == "deque" else 1)
    batch = 33
    config = dict(input_size=int(rng.integers(2, 7)), output_size=int(rng.integers(2, 7)),
                  controller_size=int(rng.integers(9, 17)), value_size=int(rng.integers(5, 9)),
                  controller=controller, loss=loss, model=model)
    lengths = tuple(int(n) for n in rng.integers(steps // 2, steps + 1, size=batch))
    lengths = (steps,) + lengths[1:]
    short = "ff" if controller == "feedforward" else "lstm"
    return CaseSpec(f"{model}-heldout-{seed}-{index}-{short}-{loss}-B{batch}-T{steps}-{regime}",
                    f"held-out draw {index} of seed {seed}: "
                    f"{model}, {controller}, {loss}, {regime}, T = {steps}", config, regime,
                    int(rng.integers(2 ** 31)), int(rng.integers(2 ** 31)), batch, steps,
                    lengths, bool(rng.integers(2)))


def heldout(seed: int, index: int) -> FixtureCase:
    return case_of(heldout_spec(seed, index))


# ------------------------------------------------------------------ fuzz draws

# ``diffmem fuzz``: sizes a GPU kernel meets (a deque holds 2T rows).
FUZZ_AXES = {"batch": (1, 512), "steps": (1, 1024)}


def fuzz_case(seed: int, sizes: dict) -> FixtureCase:
    """A case of ``sizes``; model, controller, loss, regime, widths and seeds drawn from
    ``seed`` alone (a smaller case of the same seed is the same case shrunk); ragged
    lengths from a stream of the sizes."""
    rng = np.random.default_rng([int(seed), 0xF022])
    model, controller = str(rng.choice(["stack", "queue", "deque"])), \
        str(rng.choice(["feedforward", "lstm"]))
    loss, regime = str(rng.choice(["bce", "softmax"])), str(rng.choice(REGIMES))
    config = dict(input_size=int(rng.integers(2, 7)), output_size=int(rng.integers(2, 7)),
                  controller_size=int(rng.integers(9, 17)), value_size=int(rng.integers(5, 9)),
                  controller=controller, loss=loss, model=model)
    param_seed, data_seed, weights = int(rng.integers(2 ** 31)), int(rng.integers(2 ** 31)), \
        bool(rng.integers(2))
    batch, steps = sizes["batch"], sizes["steps"]
    lengths = np.random.default_rng([int(seed), 0xF022, batch, steps]).integers(
        max(1, steps // 2), steps + 1, size=batch)
    lengths = (steps,) + tuple(int(n) for n in lengths[1:])
    short = "ff" if controller == "feedforward" else "lstm"
    return case_of(CaseSpec(f"fuzz-{model}-{seed}-{short}-{loss}-B{batch}-T{steps}-{regime}",
                            f"fuzz case of seed {seed}", config, regime, param_seed, data_seed,
                            batch, steps, lengths, weights))
