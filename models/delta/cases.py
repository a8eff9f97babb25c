"""The delta family's 17 fixture cases (DELTA.md, "Cases the fixtures must hold") and its
held-out draws.

Every case is a pure function of its ``CaseSpec`` (config, data seed, edits), so
``diffmem fixtures generate`` rebuilds identical files.  Data (DELTA.md): q, v, do, dht,
h0 ~ N(0, 1); k ~ N(0, 1) normalised in float64 (x / norm(x)) unless ``qk_l2norm``;
beta = sigmoid(U(0, 1)); g = logsigmoid(U(0, 1)) / c (fla's gate_logit_normalizer,
c = 1 unless a case says otherwise); mask 1; then each case's edits, recorded in its meta.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffmem.models.family import TILES, FixtureCase

from .config import DeltaConfig
from .layout import input_blocks, param_shapes


@dataclass(frozen=True)
class CaseSpec:
    name: str
    description: str
    config: dict
    batch: int
    steps: int
    seed: int
    c: float = 1.0                  # g = logsigmoid(U(0, 1)) / c
    edits: tuple = ()               # names of the edits below, in order
    tags: tuple = field(default=())


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _logsigmoid(x):
    return -np.logaddexp(0.0, -x)


def _cfg(model="gated_deltanet", batch=2, **kw):
    return dict(model=model, sequences=kw.pop("sequences", batch), **kw)


VARLEN = [0, 1, 65, 65, 135, 200]       # lengths 1, 64, 0, 70, 65
RESET_STEPS = (5, 70, 133, 195)
RESET_G = -1000.0                       # exp(-1000) == 0 in every precision

SPECS = (
    CaseSpec("delta-t63", "deltanet, T = 63: shorter than a chunk", _cfg("deltanet"), 2, 63, 1),
    CaseSpec("delta-t130-k32", "deltanet, K = 32 != V: two chunks and a tail of 2",
             _cfg("deltanet", key_dim=32), 2, 130, 2),
    CaseSpec("gdn-t130", "gated, the baseline case: two chunks and a tail of 2", _cfg(), 2,
             130, 3),
    CaseSpec("gdn-t130-g0", "gated with g = 0 exactly (alpha = 1): equals the deltanet run "
             "on the same data", _cfg(), 2, 130, 4, edits=("g-zero",)),
    CaseSpec("gdn-t200-resets", "gated, c = 0.1, g = -1000 (alpha = 0) at steps 5, 70, 133, "
             "195: hard resets mid-chunk and in the tail chunk [192, 200)", _cfg(), 2, 200, 5,
             c=0.1, edits=("resets",)),
    CaseSpec("gdn-beta-edges", "gated, beta exactly 0, 1 and 2 on chosen steps", _cfg(), 2,
             130, 6, edits=("beta-edges",)),
    CaseSpec("gdn-l2norm-zero", "gated, in-kernel L2 norm: raw q, k with norms in [0.2, 5], "
             "q and k exactly 0 at some (t, head)", _cfg(qk_l2norm=True), 2, 100, 7,
             edits=("raw-qk", "zero-qk")),
    CaseSpec("gdn-gva", "gated, H = 2, HV = 4: value heads sharing q/k heads",
             _cfg(heads=2, value_heads=4), 2, 70, 8),
    CaseSpec("gdn-k48-v16-scale1", "gated, K = 48 (inside a 64-wide tile), V = 16, scale 1.0",
             _cfg(batch=1, key_dim=48, value_dim=16, scale=1.0), 1, 96, 9),
    CaseSpec("gdn-varlen", "gated, cu_seqlens [0, 1, 65, 65, 135, 200]: lengths 1, 64, 0, 70, "
             "65, boundaries inside chunks, an empty and a length-1 sequence",
             _cfg(sequences=5, cu_seqlens=VARLEN), 1, 200, 10),
    CaseSpec("delta-varlen", "deltanet, cu_seqlens [0, 1, 65, 65, 135, 200]",
             _cfg("deltanet", sequences=5, cu_seqlens=VARLEN), 1, 200, 11),
    CaseSpec("gdn-varlen-stateless", "gated, cu_seqlens [0, 40, 41, 170], no h0, no ht",
             _cfg(sequences=3, cu_seqlens=[0, 40, 41, 170], initial_state=False,
                  output_final_state=False), 1, 170, 12),
    CaseSpec("gdn-t1", "gated, 3 x 1: one step", _cfg(batch=3), 3, 1, 13),
    CaseSpec("gdn-t64", "gated, 2 x 64: exactly one chunk, the chunk boundary is ht", _cfg(),
             2, 64, 14),
    CaseSpec("gdn-weighted-mask", "gated, mask weights in [0.5, 2] and zeros", _cfg(), 2, 80,
             15, edits=("mask-weights",)),
    CaseSpec("delta-beta-value", "deltanet, beta per value channel (fla's fused-recurrent "
             "kernels only)", _cfg("deltanet", beta_per_value=True), 2, 70, 16),
    CaseSpec("gdn-dg-range", "gated, 1 x 128, g alternating -30 and -1e-3 inside chunks: dg "
             "spans six decades", _cfg(batch=1), 1, 128, 17, edits=("dg-range",)),
)


# ------------------------------------------------------------------ data

def random_data(cfg: DeltaConfig, rng, batch, steps, c=1.0, raw_qk=False):
    """{q, k, v, g, beta, do, h0, dht} as DELTA.md draws them (raw_qk: q, k with norms
    in [0.2, 5] instead of unit keys)."""
    H, HV, K, V = cfg.H, cfg.HV, cfg.K, cfg.V
    d = {"q": rng.standard_normal((batch, steps, H, K)),
         "k": rng.standard_normal((batch, steps, H, K)),
         "v": rng.standard_normal((batch, steps, HV, V)),
         "g": _logsigmoid(rng.uniform(size=(batch, steps, HV))) / c,
         "beta": _sigmoid(rng.uniform(size=(batch, steps, HV, cfg.beta_width))),
         "do": rng.standard_normal((batch, steps, HV * V)),
         "h0": rng.standard_normal((cfg.N, HV, K, V)),
         "dht": rng.standard_normal((cfg.N, HV, K, V))}
    if raw_qk:
        for name in ("q", "k"):
            x = d[name]
            d[name] = x / np.linalg.norm(x, axis=-1, keepdims=True) * \
                rng.uniform(0.2, 5.0, size=x.shape[:-1] + (1,))
    elif not cfg.qk_l2norm:
        d["k"] = d["k"] / np.linalg.norm(d["k"], axis=-1, keepdims=True)
    return d


def pack(cfg: DeltaConfig, d) -> np.ndarray:
    """{q, k, v, g, beta} [B, T, heads, ...] -> inputs [B, T, X] in fla's argument order."""
    B, T = d["q"].shape[:2]
    parts = {"dq": d["q"], "dk": d["k"], "dv": d["v"], "dg": d.get("g"), "dbeta": d["beta"]}
    return np.concatenate([parts[name].reshape(B, T, width)
                           for name, _, width in input_blocks(cfg)], axis=-1)


def _edit(name, cfg, d, mask, rng):
    T = d["q"].shape[1]
    if name == "g-zero":
        d["g"] = np.zeros_like(d["g"])
    elif name == "resets":
        d["g"][:, [t for t in RESET_STEPS if t < T]] = RESET_G
    elif name == "beta-edges":
        for value, steps in ((0.0, (3, 64, 100)), (1.0, (10, 65, 127)), (2.0, (20, 63, 128))):
            d["beta"][:, list(steps)] = value
    elif name == "raw-qk":
        pass   # drawn by random_data
    elif name == "zero-qk":
        d["q"][:, 7, 0] = 0.0
        d["k"][:, 30, 1] = 0.0
        d["q"][:, 50, 0] = d["k"][:, 50, 0] = 0.0
    elif name == "mask-weights":
        mask[:] = rng.uniform(0.5, 2.0, size=mask.shape) * (rng.uniform(size=mask.shape) > 0.2)
    elif name == "dg-range":
        d["g"][:, 0::2] = -30.0
        d["g"][:, 1::2] = -1e-3
    else:
        raise ValueError(f"delta cases: unknown edit {name!r}")


def build(spec: CaseSpec):
    """(config, params, inputs, targets, mask, meta) of one case, from its spec alone."""
    cfg = DeltaConfig.from_dict(dict(spec.config))
    rng = np.random.default_rng(spec.seed)
    d = random_data(cfg, rng, spec.batch, spec.steps, spec.c, raw_qk="raw-qk" in spec.edits)
    mask = np.ones((spec.batch, spec.steps))
    for name in spec.edits:
        _edit(name, cfg, d, mask, rng)
    params = {k: d[k] for k in param_shapes(cfg)}
    meta = {"description": spec.description, "summary": summary(cfg),
            "tags": list(tags_of(spec, cfg)), "regime": "random",
            "seeds": {"data": spec.seed},
            "data": {"batch_size": spec.batch, "steps": spec.steps,
                     "gate_logit_normalizer": spec.c, "edits": list(spec.edits)}}
    return cfg, params, pack(cfg, d), d["do"], mask, meta


def summary(cfg: DeltaConfig) -> str:
    """One line for ``diffmem fixtures list``."""
    flags = [f for f, on in (("l2norm", cfg.qk_l2norm), ("beta/value", cfg.beta_per_value),
                             ("h0", cfg.initial_state), ("ht", cfg.output_final_state)) if on]
    seqs = f"cu_seqlens={list(cfg.cu_seqlens)}" if cfg.varlen else f"N={cfg.N}"
    return (f"{cfg.model} H={cfg.H} HV={cfg.HV} K={cfg.K} V={cfg.V} scale={cfg.scale:.6g} "
            f"{seqs} {' '.join(flags)}").rstrip()


def tags_of(spec: CaseSpec, cfg: DeltaConfig) -> tuple:
    tags = [cfg.model, "gated" if cfg.gated else "ungated"]
    tags += [t for t, on in (("varlen", cfg.varlen), ("gva", cfg.G > 1),
                             ("l2norm", cfg.qk_l2norm), ("beta-value", cfg.beta_per_value),
                             ("h0", cfg.initial_state), ("ht", cfg.output_final_state),
                             ("multi-chunk", spec.steps > 64), ("heads", cfg.HV >= 2)) if on]
    return tuple(tags) + tuple(spec.edits) + tuple(spec.tags)


def _g0_check(spec):
    def check(runs):
        """g = 0 exactly: the gated run equals the deltanet run on the same q, k, v, beta."""
        run = runs["float64"] if "float64" in runs else runs
        from .reference import run_batch
        cfg, params, inputs, targets, mask, _ = build(spec)
        plain = DeltaConfig.from_dict(dict(cfg.to_dict(), model="deltanet"))
        g = next(s for n, s, _ in input_blocks(cfg) if n == "dg")
        x = np.concatenate([inputs[..., :g], inputs[..., g + cfg.HV:]], axis=-1)
        other = run_batch(plain, params, x, targets, mask, want_trace=False)
        for key in ("logits", "loss"):
            if not np.array_equal(other[key], run[key]):
                raise ValueError(f"delta case {spec.name}: g = 0 gives {key} unequal to the "
                                 f"deltanet run on the same data")
    return check


def case_of(spec: CaseSpec) -> FixtureCase:
    cfg = DeltaConfig.from_dict(dict(spec.config))
    return FixtureCase(name=spec.name, description=spec.description, build=lambda: build(spec),
                       tags=tags_of(spec, cfg), cost=spec.batch * spec.steps,
                       check=_g0_check(spec) if "g-zero" in spec.edits else None)


def cases() -> tuple:
    """The fixture catalogue, in order."""
    return tuple(case_of(s) for s in SPECS)


# ------------------------------------------------------------------ held-out draws

HELDOUT_T = (1, 17, 63, 64, 65, 127, 129, 200, 256)     # DELTA.md's list
# The draws take the lengths of that list that leave a remainder for every common tile
# (``TILES``): a kernel that drops a partial tile fails on every draw.  An exact chunk,
# which this leaves out, is the fixture gdn-t64's length; ``diffmem fuzz`` draws any T.
UNTILED_T = tuple(t for t in HELDOUT_T if all(t % tile for tile in TILES))


def random_cu_seqlens(rng, steps):
    """1 to 5 sequences over ``steps``; from 3 sequences on, one empty and one of length 1
    among them (where T allows), in random order."""
    n = int(rng.integers(1, 6))
    special = [0, min(1, steps)] if n >= 3 else []
    rest = steps - sum(special)
    cuts = sorted(int(c) for c in rng.integers(0, rest + 1, size=n - len(special) - 1))
    lengths = [b - a for a, b in zip([0] + cuts, cuts + [rest])] + special
    lengths = [lengths[i] for i in rng.permutation(len(lengths))]
    return [0] + [int(c) for c in np.cumsum(lengths)]


def heldout_spec(seed: int, index: int) -> CaseSpec:
    """A random case: B 1-3, T in {1, 17, 63, 64, 65, 127, 129, 200, 256}, H 1-2, G 1-2,
    K, V in {16, 32, 48, 64}, both models, every flag, random cu_seqlens (1-5 sequences,
    lengths 0 and 1 among them).  beta per value draws V = 16 only (its chunked baseline
    solves one system per value channel)."""
    rng = np.random.default_rng([int(seed), int(index), 0xDE17A])
    model = str(rng.choice(["deltanet", "gated_deltanet"]))
    heads = 3 if index % 4 == 1 else int(rng.integers(1, 3))
    value_heads = heads * (int(rng.integers(1, 3)) if model == "gated_deltanet" else 1)
    steps = int(rng.choice(UNTILED_T))
    flags = {f: bool(rng.integers(2)) for f in ("qk_l2norm", "beta_per_value", "initial_state",
                                                "output_final_state")}
    key_dim = int(rng.choice([16, 32, 48, 64]))
    value_dim = 16 if flags["beta_per_value"] else int(rng.choice([16, 32, 48, 64]))
    varlen = bool(rng.integers(2))
    if varlen:
        cu = random_cu_seqlens(rng, steps)
        config = _cfg(model, sequences=len(cu) - 1, cu_seqlens=cu)
        batch = 1
    else:
        batch = int(rng.integers(1, 4))
        config = _cfg(model, batch)
    config.update(heads=heads, value_heads=value_heads, key_dim=key_dim, value_dim=value_dim,
                  **flags)
    c = float(rng.choice([1.0, 0.1, 10.0]))
    name = (f"delta-heldout-{seed}-{index}-{model}-B{batch}-T{steps}-H{heads}x{value_heads}-"
            f"K{key_dim}-V{value_dim}" + ("-varlen" if varlen else ""))
    return CaseSpec(name, f"held-out draw {index} of seed {seed}", config, batch, steps,
                    int(rng.integers(2 ** 31)), c=c,
                    edits=("raw-qk",) if flags["qk_l2norm"] else ())


def heldout(seed: int, index: int) -> FixtureCase:
    return case_of(heldout_spec(seed, index))


# ------------------------------------------------------------------ fuzz draws

# ``diffmem fuzz``: sizes a GPU kernel meets.  "batch" is the number of sequences: B of a
# fixed-length batch, or the sequences of one varlen row (cu_seqlens over the steps).
FUZZ_AXES = {"batch": (1, 512), "steps": (1, 1024), "heads": (1, 8)}


def fuzz_spec(seed: int, sizes: dict) -> CaseSpec:
    """A case of ``sizes`` with everything else (model, G, K, V, flags, varlen, c, data)
    drawn from ``seed`` alone, so a smaller case of the same seed is the same case shrunk."""
    rng = np.random.default_rng([int(seed), 0xF022])
    model = str(rng.choice(["deltanet", "gated_deltanet"]))
    group = int(rng.integers(1, 3)) if model == "gated_deltanet" else 1
    flags = {f: bool(rng.integers(2)) for f in ("qk_l2norm", "beta_per_value", "initial_state",
                                                "output_final_state")}
    key_dim = int(rng.choice([16, 32, 48, 64]))
    value_dim = 16 if flags["beta_per_value"] else int(rng.choice([16, 32, 48, 64]))
    varlen = bool(rng.integers(2))
    c = float(rng.choice([1.0, 0.1, 10.0]))
    data_seed = int(rng.integers(2 ** 31))
    n, steps, heads = sizes["batch"], sizes["steps"], sizes["heads"]
    if varlen:   # n sequences over the steps: cuts drawn from the sizes' own stream
        cuts = np.random.default_rng([int(seed), 0xF022, n, steps]).integers(0, steps + 1,
                                                                             size=n - 1)
        config = _cfg(model, sequences=n,
                      cu_seqlens=[0] + sorted(int(x) for x in cuts) + [steps])
        batch = 1
    else:
        config = _cfg(model, n)
        batch = n
    config.update(heads=heads, value_heads=heads * group, key_dim=key_dim,
                  value_dim=value_dim, **flags)
    name = (f"fuzz-delta-{seed}-{model}-B{n}-T{steps}-H{heads}x{heads * group}-K{key_dim}"
            f"-V{value_dim}" + ("-varlen" if varlen else ""))
    return CaseSpec(name, f"fuzz case of seed {seed}", config, batch, steps, data_seed, c=c,
                    edits=("raw-qk",) if flags["qk_l2norm"] else ())


def fuzz_case(seed: int, sizes: dict) -> FixtureCase:
    return case_of(fuzz_spec(seed, sizes))
