"""The NTM's held-out random cases: drawn fresh by every ``diffmem check``, never stored.

The frozen fixtures are few and small (batch <= 2, at most 2 write heads); kernels break
elsewhere: at batch sizes that do not fill a tile, with 3 heads (a kernel that pads heads
to a power of two), on large memories, on long sequences.  Each check therefore also
draws cases from the shapes below, from a seed that is new each time unless given
(``--seed``) and printed, so a failure replays exactly.  The reference computes their
expected values on the fly; a backend that memorised the fixture files learns nothing
about these.

Every case is one of four *shapes* (cycled), each bounded so that the reference (one
autograd pass per sequence, ~2 ms per step) computes it in about a second.  Batch, steps
and rows are never a multiple of 16 (``untiled``: a remainder for tiles of 16, 32, 64 and
128 on every draw), and the many-heads shape always has 3 heads of one kind and 3 or 5
of the other, so a tile-remainder or head-padding bug fails on every seed:

| shape | batch | steps T | rows N | heads R, Wh |
|---|---|---|---|---|
| wide-batch | 33..63 | 2..5 | 1..15 | 1..2 |
| many-heads | 3..8 | 3..10 | 2..24 | 3 and 3 or 5 |
| long | 1..2 | 65..127 | 1..8 | 1..2 |
| big-memory | 1..3 | 3..8 | 65..127 | 1..2 |

Everything else is drawn for every case: controller, H 2..16, M 1..8, a shift set, the
parameter regime (init / sharp / extreme_logits), sometimes zero memory rows, Gaussian
inputs, uniform targets and a ragged mask with non-binary weights.
"""

from __future__ import annotations

import functools

import numpy as np

from diffmem.models.family import FixtureCase, untiled

from .reference import REGIMES, NTMConfig, init_params

SHAPES = ("wide-batch", "many-heads", "long", "big-memory")
# Shift sets random cases draw from (calibration's too): the default, one-sided, the
# identity alone, and wider than the small memories they meet.
SHIFT_SETS = ((-1, 0, 1), (0, 1), (-1, 0), (0,), (-1, 0, 1, 2), (-2, -1, 0, 1, 2),
              (-3, -2, -1, 0, 1, 2, 3))


def _sizes(shape, rng):
    def pick(lo, hi):
        return untiled(rng, lo, hi)
    if shape == "wide-batch":
        return dict(B=pick(33, 63), T=pick(2, 5), N=pick(1, 15), R=pick(1, 2), Wh=pick(1, 2))
    if shape == "many-heads":
        heads = [3, int(rng.choice([3, 5]))]
        R, Wh = (heads if rng.integers(2) else heads[::-1])
        return dict(B=pick(3, 8), T=pick(3, 10), N=pick(2, 24), R=R, Wh=Wh)
    if shape == "long":
        return dict(B=pick(1, 2), T=pick(65, 127), N=pick(1, 8), R=pick(1, 2), Wh=pick(1, 2))
    if shape == "big-memory":
        return dict(B=pick(1, 3), T=pick(3, 8), N=pick(65, 127), R=pick(1, 2), Wh=pick(1, 2))
    raise ValueError(f"held-out shape: expected one of {SHAPES}, got {shape!r}")


def draw(seed: int, index: int) -> dict:
    """The plain description of held-out case ``index`` of ``seed`` (no arrays)."""
    rng = np.random.default_rng([seed, index])
    shape = SHAPES[index % len(SHAPES)]
    s = _sizes(shape, rng)
    config = dict(input_size=int(rng.integers(1, 7)), output_size=int(rng.integers(1, 5)),
                  controller_size=int(rng.integers(2, 17)), memory_rows=s["N"],
                  memory_width=int(rng.integers(1, 9)), read_heads=s["R"], write_heads=s["Wh"],
                  shifts=list(SHIFT_SETS[int(rng.integers(len(SHIFT_SETS)))]),
                  controller=str(rng.choice(["feedforward", "lstm"])), model="ntm")
    regime = REGIMES[int(rng.integers(len(REGIMES)))]
    name = (f"heldout-{seed}-{index}-{shape}-{'lstm' if config['controller'] == 'lstm' else 'ff'}"
            f"-B{s['B']}-T{s['T']}-N{s['N']}-R{s['R']}W{s['Wh']}-{regime}")
    return {"name": name, "seed": seed, "index": index, "shape": shape, "config": config,
            "batch": s["B"], "steps": s["T"], "regime": regime}


def _build(d: dict):
    """(config, params, inputs, targets, mask, meta) of a ``draw`` description."""
    rng = np.random.default_rng(d["data_key"] if "data_key" in d else [d["seed"], d["index"], 1])
    cfg = NTMConfig.from_dict(d["config"])
    params = init_params(cfg, int(rng.integers(2**31)), d["regime"])
    if rng.uniform() < 0.25:   # zero memory rows: the DELTA in the norm
        params["init.memory"][rng.uniform(size=cfg.N) < 0.5] = 0.0
    B, T = d["batch"], d["steps"]
    inputs = rng.standard_normal((B, T, cfg.X))
    targets = rng.uniform(size=(B, T, cfg.Y))
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T   # at least one full-length sequence
    mask = (np.arange(T)[None, :] < lengths[:, None]) * rng.uniform(0.5, 2.0, size=(B, T))
    if "sizes" in d:
        meta = {"fuzz": {"seed": d["seed"], "sizes": d["sizes"]}, "regime": d["regime"],
                "description": d["description"]}
    else:
        meta = {"heldout": {k: d[k] for k in ("seed", "index", "shape")}, "regime": d["regime"]}
    return cfg, params, inputs, targets, mask, meta


def heldout(seed: int, index: int) -> FixtureCase:
    """Held-out case ``index`` of ``seed``: its name at once, its arrays on ``build()``."""
    d = draw(seed, index)
    return FixtureCase(d["name"], f"held-out {d['shape']} case", functools.partial(_build, d),
                       (d["shape"], d["regime"]), cost=d["batch"] * d["steps"])


# ``diffmem fuzz``: sizes a GPU kernel meets.  Everything but the sizes is drawn from the
# seed alone, so a case shrunk to smaller sizes keeps its controller, widths and regime.
FUZZ_AXES = {"batch": (1, 512), "steps": (1, 1024), "rows": (1, 512), "read_heads": (1, 8),
             "write_heads": (1, 8)}


def fuzz_case(seed: int, sizes: dict) -> FixtureCase:
    rng = np.random.default_rng([seed, 0xF022])
    config = dict(input_size=int(rng.integers(1, 7)), output_size=int(rng.integers(1, 5)),
                  controller_size=int(rng.integers(2, 17)), memory_rows=sizes["rows"],
                  memory_width=int(rng.integers(1, 9)), read_heads=sizes["read_heads"],
                  write_heads=sizes["write_heads"],
                  shifts=list(SHIFT_SETS[int(rng.integers(len(SHIFT_SETS)))]),
                  controller=str(rng.choice(["feedforward", "lstm"])), model="ntm")
    regime = REGIMES[int(rng.integers(len(REGIMES)))]
    B, T = sizes["batch"], sizes["steps"]
    name = (f"fuzz-ntm-{seed}-{'lstm' if config['controller'] == 'lstm' else 'ff'}-B{B}-T{T}"
            f"-N{sizes['rows']}-R{sizes['read_heads']}W{sizes['write_heads']}-{regime}")
    d = {"name": name, "seed": seed, "sizes": dict(sizes), "config": config, "batch": B,
         "steps": T, "regime": regime, "data_key": [seed, 0xF022, 1],
         "description": f"fuzz case of seed {seed}"}
    return FixtureCase(name, f"fuzz case of seed {seed}", functools.partial(_build, d),
                       ("fuzz", regime), cost=B * T)
