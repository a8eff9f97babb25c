"""The Stack-RNN's fixture catalogue, held-out draws and one-line summary.

Every case is a pure function of its spec (config, parameter regime and seed, data
source and seed), so fixtures rebuild byte-identically.  Small on purpose (B <= 3,
T <= 16, H <= 10, K <= 3, D <= 8).  What the catalogue covers: both action sets; k = 1
and k = 2; one and several stacks; stacks shallow enough that values fall off the bottom
and EMPTY is pulled in; the clip active; ragged masks and non-binary mask weights; soft
(distribution) targets; data from the counting tasks a^n b^n and a^n b^n c^n and random
one-hot sequences.  Each case's ``check`` verifies its promise on the float64 run.

Tags (the bug catalogue's NEEDS): "push-pop" | "noop" (action set), "k1" | "k2",
"multistack" (K >= 2), "shallow" (values fall off the bottom, EMPTY pulled in over real
values), "clipped" (push pre-activation beyond +-50), "clip-pinned" (one stack whose push
pre-activation is below -50 at every step and |D h| inside 50: the clip's placement and
existence change the push value by ~100 %), "sharp", "ragged", "mask-weights",
"soft-targets", "counting" | "random".
"""

from __future__ import annotations

import numpy as np

from diffmem.models.family import FixtureCase, untiled

from .config import StackRNNConfig
from .params import init_params
from .reference import CLIP, EMPTY


# ------------------------------------------------------------------ data

def counting(rng, batch, lo, hi, letters=2, pad_to=None):
    """Next-symbol prediction on a^n b^n (letters=2) or a^n b^n c^n (3), n drawn from
    [lo, hi]; symbols 0..letters-1 are the letters, symbol ``letters`` the end marker
    (V = letters + 1).  Sequence '. a^n b^n ... .': inputs all but the last symbol,
    targets all but the first; padding has mask 0 and zero inputs and targets.
    Returns (inputs, targets, mask, lengths)."""
    end = letters
    seqs = []
    for _ in range(batch):
        n = int(rng.integers(lo, hi + 1))
        seqs.append([end] + [c for c in range(letters) for _ in range(n)] + [end])
    T = max(len(s) - 1 for s in seqs) if pad_to is None else pad_to
    V = letters + 1
    inputs, targets, mask = np.zeros((batch, T, V)), np.zeros((batch, T, V)), np.zeros((batch, T))
    for b, s in enumerate(seqs):
        if len(s) - 1 > T:
            raise ValueError(f"counting: a sequence of {len(s) - 1} steps does not fit T = {T}")
        for t in range(len(s) - 1):
            inputs[b, t, s[t]] = 1.0
            targets[b, t, s[t + 1]] = 1.0
            mask[b, t] = 1.0
    return inputs, targets, mask, [len(s) - 1 for s in seqs]


def random_data(rng, batch, steps, V, lengths=None, soft=False, mask_weights=False):
    """Random one-hot inputs and targets (or softmax-distributed targets), mask 1 up to
    each sequence's length (all ``steps`` when ``lengths`` is None)."""
    inputs = np.eye(V)[rng.integers(V, size=(batch, steps))]
    if soft:
        z = rng.normal(size=(batch, steps, V)) * 2.0
        targets = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    else:
        targets = np.eye(V)[rng.integers(V, size=(batch, steps))]
    lengths = [steps] * batch if lengths is None else list(lengths)
    mask = (np.arange(steps)[None, :] < np.array(lengths)[:, None]).astype(float)
    if mask_weights:
        mask = mask * rng.uniform(0.5, 2.0, size=mask.shape)
    inputs, targets = inputs * (mask[..., None] > 0), targets * (mask[..., None] > 0)
    return inputs, targets, mask, lengths


# ------------------------------------------------------------------ promises

def _push_preactivation(params, hidden):
    return np.einsum("sh,bth->bts", params["D"], hidden) + params["bias.push"]


def promise_clipped(params, run):
    pre = _push_preactivation(params, run["trace"]["hidden"])
    if not (np.abs(pre) > CLIP).any():
        raise ValueError(f"promises the clip active; largest |push pre-activation| "
                         f"{np.abs(pre).max():.1f} <= {CLIP}")
    if not (np.abs(pre) < CLIP).any():
        raise ValueError("promises some push pre-activations inside the clip; none are")


def promise_clip_pinned(params, run):
    """One stack; every push pre-activation below -CLIP while every |D h| stays inside
    it: the push value is sigmoid(-CLIP) = 1.9e-22 at every step, the whole push_value
    trace, so a kernel without the clip, or clipping D h before adding bias.push, gives
    sigmoid(D h + bias.push) < 1e-23 there: wrong by ~100 % of that tensor's scale."""
    dh = np.einsum("sh,bth->bts", params["D"], run["trace"]["hidden"])
    pre = dh + params["bias.push"]
    if params["D"].shape[0] != 1 or not (pre < -CLIP).all() or not (np.abs(dh) < CLIP).all():
        raise ValueError(f"promises one stack, every push pre-activation below -{CLIP:g} "
                         f"(largest {pre.max():.1f}) and |D h| inside it (largest "
                         f"{np.abs(dh).max():.1f})")


def promise_shallow(cfg, run):
    """A push moves a real (non-EMPTY) value off the bottom row, and a pop pulls EMPTY in
    under a real value: at some step, a_push > 0.5 (resp. a_pop > 0.5) while
    |s_{t-1}[D-1] - EMPTY| > 0.1."""
    stack, action = run["trace"]["stack"], run["trace"]["action"]
    B, T = stack.shape[:2]
    prev = np.concatenate([np.full((B, 1) + stack.shape[2:], EMPTY), stack[:, :-1]], axis=1)
    real_bottom = np.abs(prev[..., -1] - EMPTY) > 0.1                  # [B, T, K]
    if not (real_bottom & (action[..., 0] > 0.5)).any():
        raise ValueError("promises a push of a real value off the bottom; none found")
    if not (real_bottom & (action[..., 1] > 0.5)).any():
        raise ValueError("promises a pop pulling EMPTY in under a real value; none found")


def promise_noop(run):
    if not (run["trace"]["action"][..., 2] > 0.3).any():
        raise ValueError("promises a noop weight above 0.3 somewhere; none found")


def promise_sharp(run):
    if (run["trace"]["action"].max(-1) > 0.99).mean() < 0.5:
        raise ValueError("promises near one-hot actions (max > 0.99) at most steps")


def promise_saturated(run):
    if not (run["trace"]["action"] == 0).any():
        raise ValueError("promises saturated actions (an action weight exactly 0); none found")


def promise_ragged(mask):
    lengths = (mask > 0).sum(-1)
    if len(set(lengths.tolist())) < 2:
        raise ValueError(f"promises ragged lengths, got {lengths.tolist()}")


# ------------------------------------------------------------------ the catalogue

def _cfg(V, H, K, D, k, noop):
    return StackRNNConfig(alphabet_size=V, hidden_size=H, stacks=K, depth=D, top_k=k,
                          actions=("push", "pop", "noop") if noop else ("push", "pop"))


def _case(name, description, cfg, regime, param_seed, data, tags, promises=(), scale=(),
          offset=()):
    """data: (kind, seed, options) with kind "counting" or "random"; scale: (param name,
    factor) edits after init_params (e.g. A x 8 and U x 4: actions that follow the input,
    so a stack both fills up and empties); offset: (param name, value) added after."""
    kind, data_seed, options = data

    def build():
        params = init_params(cfg, param_seed, regime)
        for pname, factor in scale:
            params[pname] = params[pname] * factor
        for pname, value in offset:
            params[pname] = params[pname] + value
        rng = np.random.default_rng(data_seed)
        if kind == "counting":
            inputs, targets, mask, lengths = counting(rng, **options)
        else:
            inputs, targets, mask, lengths = random_data(rng, V=cfg.V, **options)
        meta = {"description": description, "summary": summary(cfg), "tags": list(tags),
                "regime": regime, "seeds": {"params": param_seed, "data": data_seed},
                "params_source": f"init_params(seed={param_seed}, regime={regime!r})",
                "param_edits": [["scale", pname, factor] for pname, factor in scale]
                + [["add", pname, value] for pname, value in offset],
                "data": {"task": kind, "options": dict(options), "lengths": lengths}}
        return cfg, params, inputs, targets, mask, meta

    def check(case_runs):
        _, params, _, _, mask, _ = build()
        run = case_runs["float64"]
        for promise in promises:
            try:
                if promise == "clipped":
                    promise_clipped(params, run)
                elif promise == "clip-pinned":
                    promise_clip_pinned(params, run)
                elif promise == "shallow":
                    promise_shallow(cfg, run)
                elif promise == "noop":
                    promise_noop(run)
                elif promise == "sharp":
                    promise_sharp(run)
                elif promise == "saturated":
                    promise_saturated(run)
                elif promise == "ragged":
                    promise_ragged(mask)
            except ValueError as exc:
                raise ValueError(f"case {name}: {exc}") from None

    return FixtureCase(name, description, build, tuple(tags), check)


def _ab(seed, batch=3, lo=1, hi=7, letters=2, pad_to=16):
    return ("counting", seed, {"batch": batch, "lo": lo, "hi": hi, "letters": letters,
                               "pad_to": pad_to})


def _rand(seed, batch, steps, lengths=None, **kw):
    lengths = None if lengths is None else list(lengths)   # JSON-shaped, as stored
    return ("random", seed, dict({"batch": batch, "steps": steps, "lengths": lengths}, **kw))


# Actions driven by the input symbol: stacks fill up and empty again.
SWITCHING = (("U", 4.0), ("A", 8.0))


def cases() -> tuple:
    return (
        _case("stackrnn-anbn-pushpop-init", "a^n b^n, push/pop, k=2, two stacks, ragged",
              _cfg(3, 8, 2, 6, 2, False), "init", 1, _ab(1),
              ("counting", "push-pop", "k2", "multistack", "ragged"), ("ragged",)),
        _case("stackrnn-anbn-noop-sharp", "a^n b^n, push/pop/noop, near one-hot actions",
              _cfg(3, 8, 2, 6, 2, True), "sharp", 2, _ab(2),
              ("counting", "noop", "k2", "multistack", "sharp", "ragged"),
              ("sharp", "noop", "ragged")),
        _case("stackrnn-anbn-noop-saturated", "a^n b^n, push/pop/noop, action scores x 2000: "
              "action weights exactly 0 and 1 (exp underflows in float64 and float32)",
              _cfg(3, 8, 2, 6, 2, True), "sharp", 10, _ab(10),
              ("counting", "noop", "k2", "multistack", "sharp", "saturated", "ragged"),
              ("saturated", "ragged"), (("A", 2000.0), ("bias.action", 2000.0))),
        _case("stackrnn-anbncn-k1-pushpop-sharp", "a^n b^n c^n, one stack, k=1, sharp",
              _cfg(4, 10, 1, 8, 1, False), "sharp", 3, _ab(3, lo=1, hi=5, letters=3),
              ("counting", "push-pop", "k1", "sharp", "ragged"), ("sharp", "ragged")),
        _case("stackrnn-random-shallow-pushpop", "D=2: values fall off the bottom and EMPTY "
              "is pulled in under real values; push/pop, k=2, three stacks",
              _cfg(4, 6, 3, 2, 2, False), "init", 4, _rand(4, 2, 16),
              ("random", "push-pop", "k2", "multistack", "shallow"), ("shallow",),
              SWITCHING),
        _case("stackrnn-random-shallow-noop-k1", "D=3, push/pop/noop, k=1: values fall off "
              "the bottom, EMPTY pulled in", _cfg(3, 7, 2, 3, 1, True), "init", 9,
              _rand(5, 3, 16, (16, 11, 7)),
              ("random", "noop", "k1", "multistack", "shallow", "ragged"),
              ("shallow", "ragged"), SWITCHING),
        _case("stackrnn-random-clipped-pushpop", "push pre-activations beyond +-50: the clip "
              "and its zero gradient active, others inside", _cfg(3, 6, 2, 4, 2, False),
              "clipped", 6, _rand(6, 2, 12),
              ("random", "push-pop", "k2", "multistack", "clipped"), ("clipped",)),
        _case("stackrnn-random-clipped-noop", "clip active, push/pop/noop, ragged",
              _cfg(4, 9, 3, 5, 2, True), "clipped", 7, _rand(7, 3, 14, (14, 9, 12)),
              ("random", "noop", "k2", "multistack", "clipped", "ragged"),
              ("clipped", "ragged")),
        _case("stackrnn-random-clip-pinned", "one stack, bias.push = -60: every push "
              "pre-activation below -50 and every |D h| inside 50, so the push value is "
              "the clip's sigmoid(-50) at each step (a missing clip, or one on D h alone, "
              "is off by ~100 % of it)", _cfg(3, 6, 1, 4, 2, True), "init", 10,
              _rand(10, 2, 10), ("random", "noop", "k2", "clip-pinned"), ("clip-pinned",),
              (("bias.push", 0.0),), offset=(("bias.push", -60.0),)),
        _case("stackrnn-random-weighted-soft", "mask weights in [0.5, 2], soft targets, "
              "ragged; one stack, D=8", _cfg(5, 10, 1, 8, 2, True), "init", 8,
              _rand(8, 2, 16, (16, 10), soft=True, mask_weights=True),
              ("random", "noop", "k2", "ragged", "mask-weights", "soft-targets"), ("ragged",)),
    )


# ------------------------------------------------------------------ held out

def heldout(seed: int, index: int) -> FixtureCase:
    """A random case of shapes no fixture has: batch 33, T in [17, 40], K in 1..4 (3 on
    draw 1 of every four, as a kernel padding stacks to a power of two meets on every
    seed), D in 9..15, H 11..16, V 2..6, k 1..3, either action set, any regime, ragged
    lengths; T and D never a multiple of 16 (``untiled``).  The reference computes each
    in well under a second."""
    rng = np.random.default_rng([seed, index])
    K, D = int(rng.integers(1, 5)), untiled(rng, 9, 16)
    K = 3 if index % 4 == 1 else K
    cfg = _cfg(int(rng.integers(2, 7)), int(rng.integers(11, 17)), K, D,
               int(rng.integers(1, 4)), bool(rng.integers(2)))
    regime = ("init", "sharp", "clipped")[int(rng.integers(3))]
    steps = untiled(rng, 17, 40)
    lengths = [steps] + [int(n) for n in rng.integers(1, steps + 1, size=32)]
    data = _rand(int(rng.integers(2 ** 31)), 33, steps, lengths,
                 soft=bool(rng.integers(2)), mask_weights=bool(rng.integers(2)))
    tags = ("random", "heldout", "noop" if cfg.A == 3 else "push-pop", f"k{min(cfg.k, 2)}")
    name = (f"stackrnn-heldout-{seed}-{index}-B33-T{steps}-K{K}-D{D}-k{cfg.k}"
            f"-{'noop' if cfg.A == 3 else 'pushpop'}-{regime}")
    return _case(name, f"held-out draw {index} of seed {seed} "
                 f"({regime})", cfg, regime, int(rng.integers(2 ** 31)), data, tags)


def summary(cfg) -> str:
    """One line for ``diffmem fixtures list``."""
    return (f"stackrnn V={cfg.V} H={cfg.H} K={cfg.K} D={cfg.D} k={cfg.k} "
            f"actions={'/'.join(cfg.actions)}")


# ------------------------------------------------------------------ fuzz draws

# ``diffmem fuzz``: sizes a GPU kernel meets: batch, steps, stack depth (rows), stacks.
FUZZ_AXES = {"batch": (1, 512), "steps": (1, 1024), "rows": (2, 512), "stacks": (1, 8)}


def fuzz_case(seed: int, sizes: dict) -> FixtureCase:
    """A case of ``sizes``; everything else drawn from ``seed`` alone (a smaller case of
    the same seed is the same case shrunk); ragged lengths from a stream of the sizes."""
    rng = np.random.default_rng([int(seed), 0xF022])
    V, H, k, noop = int(rng.integers(2, 7)), int(rng.integers(11, 17)), \
        int(rng.integers(1, 4)), bool(rng.integers(2))
    regime = ("init", "sharp", "clipped")[int(rng.integers(3))]
    param_seed, data_seed = int(rng.integers(2 ** 31)), int(rng.integers(2 ** 31))
    soft, weights = bool(rng.integers(2)), bool(rng.integers(2))
    B, T, D, K = sizes["batch"], sizes["steps"], sizes["rows"], sizes["stacks"]
    cfg = _cfg(V, H, K, D, min(k, D), noop)
    lengths = [T] + [int(n) for n in np.random.default_rng([int(seed), 0xF022, B, T])
                     .integers(1, T + 1, size=B - 1)]
    name = f"fuzz-stackrnn-{seed}-B{B}-T{T}-K{K}-D{D}-k{cfg.k}-" \
           f"{'noop' if noop else 'pushpop'}-{regime}"
    return _case(name, f"fuzz case of seed {seed} ({regime})", cfg, regime, param_seed,
                 _rand(data_seed, B, T, lengths, soft=soft, mask_weights=weights),
                 ("random", "fuzz"))
