"""The NTM's golden fixture cases: which cases the harness checks, and how each is built.

Every case is a pure
function of its ``CaseSpec`` (config, parameter regime and seed, parameter edits, data
task and seed), so ``diffmem fixtures generate`` rebuilds byte-identical files.

The cases cover HARNESS.md section 2's semantic space: feedforward and LSTM controllers;
1 and several read/write heads; shift sets {-1,0,1} and wider; N = 1 and N = 2 (shifts
wrap onto one row); zero memory rows and zero keys (the DELTA in the norm); T >= 100;
ragged batches; the init, sharp and extreme_logits regimes (and trained models, through
the pretrained hook below); data from all five tasks and random data.

Shapes are shared on purpose: a backend such as JAX compiles once per (config, B, T),
so cases of one config are padded (zero mask, zero input) to one T and use one B, and
``diffmem check`` compiles about a dozen times, not once per case.
"""

from __future__ import annotations

import functools
import json
import pathlib
from dataclasses import dataclass, field

import numpy as np

from diffmem.models.family import FixtureCase
from diffmem.models.hooks import BUNDLED_PRETRAINED
from diffmem.models.tasks import fit_case_data
from diffmem.reference.validate import validate_params

from . import reference as ntm
from . import tasks
from .reference.params import interface_offsets

# ------------------------------------------------------------------ configs
# Small sizes: traces are [B, T, ...] per entry and the memory trace is [B, T, N, M].

def _cfg(X, Y, controller="feedforward", H=12, N=8, M=4, R=1, Wh=1, shifts=(-1, 0, 1)):
    return dict(input_size=X, output_size=Y, controller_size=H, memory_rows=N,
                memory_width=M, read_heads=R, write_heads=Wh, shifts=list(shifts),
                controller=controller, model="ntm")


# X = 6, Y = 4: copy and associative_recall of width 4, and random data of those widths.
FF = _cfg(6, 4)
LSTM = _cfg(6, 4, "lstm")
FF_MULTI = _cfg(6, 4, N=6, R=2, Wh=2)
LSTM_MULTI_WIDE = _cfg(6, 4, "lstm", N=7, M=3, R=3, Wh=2, shifts=(-2, -1, 0, 1, 2))
FF_N1 = _cfg(6, 4, N=1)                                  # every shift lands on row 0
LSTM_N2 = _cfg(6, 4, "lstm", N=2)                        # -1 and +1 land on the same row
FF_N2_WIDE = _cfg(6, 4, N=2, shifts=(-3, -2, -1, 0, 1, 2, 3))
LSTM_REPEAT = _cfg(6, 5, "lstm", H=10, N=6)              # repeat_copy width 4
FF_SORT = _cfg(7, 4, H=10, N=6)                          # priority_sort width 4
LSTM_NGRAMS = _cfg(1, 1, "lstm", H=8, N=6, M=3)          # dynamic_ngrams, long


# ------------------------------------------------------------------ specs

@dataclass(frozen=True)
class Data:
    task: str
    batch_size: int
    lo: int                     # make_batch draws each sequence's knob from [lo, hi]
    hi: int
    seed: int
    options: dict = field(default_factory=dict)
    pad_to: int | None = None   # zero-mask padding to a shared T (one compile per shape)
    mask_weights: bool = False  # scale the mask by U(0.5, 2): non-binary loss weights


@dataclass(frozen=True)
class CaseSpec:
    name: str
    description: str
    config: dict | None         # None: taken from the pretrained model
    data: Data
    regime: str = "init"
    param_seed: int = 0
    edits: tuple = ()           # ("zero_memory_rows", [rows]) | ("zero_keys", kind, [heads])
    #                             | ("interface_bias", field, value)
    pretrained: str | None = None   # stem of pretrained/<stem>.npz (the trained-model hook)
    tags: tuple = ()


def _copy(seed, B=2, lo=2, hi=7, pad_to=16, width=4):
    return Data("copy", B, lo, hi, seed, {"width": width}, pad_to)


def _random(seed, B, lo, hi, pad_to, X=6, Y=4, mask_weights=False):
    return Data("random", B, lo, hi, seed, {"input_size": X, "output_size": Y},
                pad_to, mask_weights)


# Saturated attention: beta * K spread over hundreds (exp underflows to exactly 0 in
# float64 and float32 alike), the gate at exactly 1 (w_prev drops out), and gamma ~ 31 so
# that EPS^gamma underflows too: the shifted and the sharpened weights are exactly 0 on
# the rows content addressing left at 0.  A kernel that sharpens as softmax(gamma *
# log w) without EPS gets NaN gradients here; a softmax whose max is not its row's
# (none at all, or one over the batch) overflows or underflows to NaN.
SATURATED = (("interface_bias", "beta", 1000.0), ("interface_bias", "gate", 50.0),
             ("interface_bias", "gamma", 30.0))

CASES = (
    # --- the core feedforward config, B=2, T=16: regimes and degenerate addressing
    CaseSpec("ntm-copy-ff-init", "copy, plain initialisation, ragged lengths",
             FF, _copy(1), "init", 1, tags=("copy", "feedforward", "ragged")),
    CaseSpec("ntm-copy-ff-sharp", "copy, near one-hot attention (beta~20, gamma~11)",
             FF, _copy(2), "sharp", 2, tags=("copy", "feedforward", "sharp")),
    CaseSpec("ntm-copy-ff-extreme", "copy, output layer x100: |logits| > 50",
             FF, _copy(3), "extreme_logits", 3, tags=("copy", "feedforward", "extreme")),
    CaseSpec("ntm-copy-ff-zero-memory-rows", "rows 0, 3, 5 of init.memory are zero",
             FF, _copy(4), "init", 4, (("zero_memory_rows", [0, 3, 5]),),
             tags=("copy", "feedforward", "zero-norm")),
    CaseSpec("ntm-copy-ff-overflow", "beta ~ 150: beta * K overflows exp in float32 unless "
             "the softmax subtracts its max", FF, _copy(9), "init", 9,
             (("interface_bias", "beta", 150.0),), tags=("copy", "feedforward", "overflow")),
    CaseSpec("ntm-copy-ff-zero-keys-sharp", "write and read keys are exactly 0 (zero "
             "interface rows); cosine 0/0 guarded by DELTA; sharp", FF, _copy(5), "sharp", 5,
             (("zero_keys", "write", [0]), ("zero_keys", "read", [0])),
             tags=("copy", "feedforward", "zero-norm", "sharp")),
    CaseSpec("ntm-associative-recall-ff-init", "associative recall (width 4, items of 2)",
             FF, Data("associative_recall", 2, 2, 3, 6, {"width": 4, "item_len": 2}, 16),
             "init", 6, tags=("associative_recall", "feedforward", "ragged")),
    CaseSpec("ntm-random-ff-weighted-mask", "random data, mask weights in [0.5, 2], ragged",
             FF, _random(7, 2, 5, 16, 16, mask_weights=True), "init", 7,
             tags=("random", "feedforward", "ragged", "mask-weights")),
    CaseSpec("ntm-random-ff-long-sharp", "T = 100, sharp attention: float32 error growth",
             FF, _random(8, 1, 100, 100, None), "sharp", 8,
             tags=("random", "feedforward", "long", "sharp")),

    CaseSpec("ntm-copy-ff-saturated", "saturated attention: beta ~ 1000, gate exactly 1, "
             "a one-hot shift and gamma ~ 31: content, shifted and sharpened weights exactly "
             "0 on most rows", FF, _copy(61), "sharp", 61, SATURATED + (("interface_bias",
                                                                          "shift", 1000.0),),
             tags=("copy", "feedforward", "sharp", "saturated")),

    # --- the core LSTM config, B=2, T=16
    CaseSpec("ntm-copy-lstm-init", "copy, LSTM controller, plain initialisation",
             LSTM, _copy(11), "init", 11, tags=("copy", "lstm", "ragged")),
    CaseSpec("ntm-copy-lstm-sharp", "copy, LSTM, sharp attention",
             LSTM, _copy(12), "sharp", 12, tags=("copy", "lstm", "sharp")),
    CaseSpec("ntm-copy-lstm-extreme", "copy, LSTM, |logits| > 50",
             LSTM, _copy(13), "extreme_logits", 17, tags=("copy", "lstm", "extreme")),
    CaseSpec("ntm-copy-lstm-zero-memory-sharp", "all of init.memory is zero; sharp",
             LSTM, _copy(14), "sharp", 14, (("zero_memory_rows", list(range(8))),),
             tags=("copy", "lstm", "zero-norm", "sharp")),
    CaseSpec("ntm-associative-recall-lstm-sharp", "associative recall, LSTM, sharp",
             LSTM, Data("associative_recall", 2, 2, 3, 15, {"width": 4, "item_len": 2}, 16),
             "sharp", 15, tags=("associative_recall", "lstm", "sharp")),
    CaseSpec("ntm-random-lstm-init", "random data, LSTM, ragged",
             LSTM, _random(16, 2, 4, 16, 16), "init", 16, tags=("random", "lstm", "ragged")),
    CaseSpec("ntm-copy-lstm-saturated", "saturated attention, LSTM: beta ~ 1000, gate "
             "exactly 1, gamma ~ 31: shifted and sharpened weights exactly 0 on some rows",
             LSTM, _copy(63), "sharp", 63, SATURATED,
             tags=("copy", "lstm", "sharp", "saturated")),

    # --- several heads: 2 write + 2 read (feedforward), 2 write + 3 read, 5 shifts (LSTM)
    CaseSpec("ntm-random-ff-multihead-init", "2 write and 2 read heads, random data",
             FF_MULTI, _random(21, 2, 8, 12, 12), "init", 21,
             tags=("random", "feedforward", "multihead")),
    CaseSpec("ntm-copy-ff-multihead-sharp", "2 write and 2 read heads, copy, sharp",
             FF_MULTI, _copy(22, B=2, lo=2, hi=5, pad_to=12), "sharp", 22,
             tags=("copy", "feedforward", "multihead", "sharp")),
    CaseSpec("ntm-copy-ff-multihead-saturated", "2 write and 2 read heads, saturated "
             "attention (beta ~ 1000, gate exactly 1, gamma ~ 31)", FF_MULTI,
             _copy(62, B=2, lo=2, hi=5, pad_to=12), "sharp", 62, SATURATED,
             tags=("copy", "feedforward", "multihead", "sharp", "saturated")),
    CaseSpec("ntm-random-ff-multihead-zero-keys", "one write and one read head with zero "
             "keys beside normal heads; init.memory row 2 zero", FF_MULTI,
             _random(23, 2, 12, 12, 12), "init", 23,
             (("zero_keys", "write", [1]), ("zero_keys", "read", [0]),
              ("zero_memory_rows", [2])),
             tags=("random", "feedforward", "multihead", "zero-norm")),
    CaseSpec("ntm-random-lstm-multihead-wide-init", "2 write, 3 read heads, shifts -2..2",
             LSTM_MULTI_WIDE, _random(24, 2, 6, 12, 12), "init", 24,
             tags=("random", "lstm", "multihead", "wide-shifts", "ragged")),
    CaseSpec("ntm-random-lstm-multihead-wide-sharp", "2 write, 3 read heads, shifts -2..2, "
             "sharp", LSTM_MULTI_WIDE, _random(25, 2, 12, 12, 12), "sharp", 25,
             tags=("random", "lstm", "multihead", "wide-shifts", "sharp")),
    CaseSpec("ntm-copy-lstm-multihead-wide-extreme", "2 write, 3 read heads, shifts -2..2, "
             "|logits| > 50", LSTM_MULTI_WIDE, _copy(26, B=2, lo=3, hi=5, pad_to=12),
             "extreme_logits", 30, tags=("copy", "lstm", "multihead", "wide-shifts", "extreme")),

    # --- tiny memories: shifts wrap onto the same row
    CaseSpec("ntm-random-ff-n1-init", "N = 1: every shift lands on the only row",
             FF_N1, _random(31, 2, 6, 10, 10), "init", 31, tags=("random", "feedforward", "n1")),
    CaseSpec("ntm-copy-ff-n1-sharp", "N = 1, copy, sharp",
             FF_N1, _copy(32, B=2, lo=2, hi=4, pad_to=10), "sharp", 32,
             tags=("copy", "feedforward", "n1", "sharp")),
    CaseSpec("ntm-random-lstm-n2-init", "N = 2: shifts -1 and +1 add up on the other row",
             LSTM_N2, _random(33, 2, 6, 10, 10), "init", 33, tags=("random", "lstm", "n2")),
    CaseSpec("ntm-copy-lstm-n2-sharp", "N = 2, copy, sharp",
             LSTM_N2, _copy(34, B=2, lo=2, hi=4, pad_to=10), "sharp", 34,
             tags=("copy", "lstm", "n2", "sharp")),
    CaseSpec("ntm-random-ff-n2-wide-sharp", "N = 2 with shifts -3..3: each row gets several "
             "shifts; sharp", FF_N2_WIDE, _random(35, 2, 10, 10, 10), "sharp", 35,
             tags=("random", "feedforward", "n2", "wide-shifts", "sharp")),
    CaseSpec("ntm-random-ff-n2-wide-init", "N = 2 with shifts -3..3, ragged, weighted mask",
             FF_N2_WIDE, _random(36, 2, 4, 10, 10, mask_weights=True), "init", 36,
             tags=("random", "feedforward", "n2", "wide-shifts", "ragged", "mask-weights")),

    # --- the other tasks
    CaseSpec("ntm-repeat-copy-lstm-init", "repeat copy (width 4, up to 3 repeats)",
             LSTM_REPEAT, Data("repeat_copy", 2, 1, 3, 41, {"width": 4, "max_repeats": 3}, 16),
             "init", 41, tags=("repeat_copy", "lstm", "ragged")),
    CaseSpec("ntm-repeat-copy-lstm-sharp", "repeat copy, sharp",
             LSTM_REPEAT, Data("repeat_copy", 2, 1, 3, 42, {"width": 4, "max_repeats": 3}, 16),
             "sharp", 42, tags=("repeat_copy", "lstm", "sharp")),
    CaseSpec("ntm-priority-sort-ff-init", "priority sort (width 4, 3..6 items, 4 out)",
             FF_SORT, Data("priority_sort", 2, 3, 6, 43, {"width": 4, "n_out": 4}, 12),
             "init", 43, tags=("priority_sort", "feedforward", "ragged")),
    CaseSpec("ntm-priority-sort-ff-extreme", "priority sort, |logits| > 50",
             FF_SORT, Data("priority_sort", 2, 3, 6, 44, {"width": 4, "n_out": 4}, 12),
             "extreme_logits", 44, tags=("priority_sort", "feedforward", "extreme")),
    CaseSpec("ntm-dynamic-ngrams-lstm-long-init", "dynamic 3-grams, T = 100..120, ragged",
             LSTM_NGRAMS, Data("dynamic_ngrams", 2, 100, 120, 45, {"order": 3}, 120),
             "init", 45, tags=("dynamic_ngrams", "lstm", "long", "ragged")),
    CaseSpec("ntm-dynamic-ngrams-lstm-long-sharp", "dynamic 3-grams, T = 120, sharp",
             LSTM_NGRAMS, Data("dynamic_ngrams", 2, 120, 120, 46, {"order": 3}, 120),
             "sharp", 46, tags=("dynamic_ngrams", "lstm", "long", "sharp")),
)

# ------------------------------------------------------------------ trained models (hook)
# A case with ``pretrained="<task>"`` takes its config and params from
# ``pretrained/<task>.npz`` (training.modelfile format) and is part of the catalogue only
# while that file exists.  Trained attention is sharp and structured (the regime where
# float32 kernels are stressed most realistically).  Keep B*T small: the memory trace is
# [B, T, N, M] in two dtypes.
PRETRAINED_CASES = (
    CaseSpec("ntm-copy-ff-trained", "the pretrained copy model (feedforward, N = 24, M = 8) "
             "on a length-8 copy", None, _copy(51, B=1, lo=8, hi=8, pad_to=18),
             pretrained="copy", tags=("copy", "feedforward", "trained")),
    # (The pretrained LSTM n-gram model is left out: its 4H x (X + R*M + H) controller
    # makes a case of ~1.2 MB, parameters and gradients in two dtypes.)
)


def pretrained_dir() -> pathlib.Path:
    return BUNDLED_PRETRAINED


def trained_model(path):
    """(config, params) of a model file (diffmem-model/1: a JSON ``header`` entry and
    ``param/<name>`` arrays), read here: the model file's own module is training's, above
    models/."""
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(str(z["header"]))
        arrays = {k[len("param/"):]: z[k] for k in z.files if k.startswith("param/")}
    if header.get("spec_version") != ntm.SPEC_VERSION:
        raise ValueError(f"model file {path}: made for spec {header.get('spec_version')!r}, "
                         f"not {ntm.SPEC_VERSION!r}")
    cfg = ntm.NTMConfig.from_dict(header["config"])
    params = validate_params(arrays, ntm.param_shapes(cfg))
    return cfg, {k: np.array(v, dtype=np.float64) for k, v in params.items()}


def _fixture_case(spec: CaseSpec) -> FixtureCase:
    missing = None
    if spec.pretrained and not (pretrained_dir() / f"{spec.pretrained}.npz").is_file():
        missing = f"its pretrained model file pretrained/{spec.pretrained}.npz is not there yet"
    d = spec.data
    return FixtureCase(spec.name, spec.description, functools.partial(build, spec), spec.tags,
                       functools.partial(check_promises, spec),
                       cost=d.batch_size * max(d.hi, d.pad_to or 0), missing=missing)


def cases() -> tuple:
    """Every catalogued case, in catalogue order (trained-model cases last)."""
    return tuple(_fixture_case(s) for s in CASES + PRETRAINED_CASES)


# ------------------------------------------------------------------ building

def _apply_edit(params, cfg, edit):
    op, *args = edit
    if op == "zero_memory_rows":
        params["init.memory"][args[0]] = 0.0
    elif op == "zero_keys":
        # Zero rows of the interface that feed a head's key: k = 0 exactly at every step.
        kind, heads = args
        for k, h, start in interface_offsets(cfg, "key"):
            if k == kind and h in heads:
                params["interface.weight"][start:start + cfg.M] = 0.0
                params["interface.bias"][start:start + cfg.M] = 0.0
    elif op == "interface_bias":
        # Every head's bias for one field (e.g. beta^ = 150: beta * K beyond float32's
        # exp range, so a softmax that does not subtract its max overflows).
        field, value = args
        for _, _, start in interface_offsets(cfg, field):
            params["interface.bias"][start] = value
    else:
        raise ValueError(f"catalogue: unknown parameter edit {op!r}")


def _data(d: Data, cfg):
    rng = np.random.default_rng(d.seed)
    inputs, targets, mask, lengths = tasks.make_batch(d.task, rng, d.batch_size, d.lo, d.hi,
                                                      **d.options)
    if d.mask_weights:
        mask = mask * rng.uniform(0.5, 2.0, size=mask.shape)
    inputs, targets, mask = fit_case_data(
        inputs, targets, mask, pad_to=d.pad_to, task=d.task, options=d.options,
        sizes=tasks.task_sizes(d.task, **d.options), expected=(cfg.X, cfg.Y),
        who="catalogue")
    return inputs, targets, mask, [int(n) for n in lengths]


def check_promises(spec: CaseSpec, runs: dict):
    """What a case's regime promises, checked on the reference's float64 run.

    extreme_logits scales the output layer, but a saturated LSTM controller can still
    stay under |y| = 50 for some seeds: such a seed is refused here, not silently kept.
    """
    if "saturated" in spec.tags:
        trace = runs["float64"]["trace"]
        for name in ("write.w_shifted", "write.weight", "read.w_shifted", "read.weight"):
            if not (trace[name] == 0).any():
                raise ValueError(f"catalogue: case {spec.name} promises saturated attention, "
                                 f"but {name} is never exactly 0; choose another param_seed")
    if spec.regime == "extreme_logits" and not spec.pretrained:
        peak = float(np.abs(runs["float64"]["logits"]).max())
        if peak <= 50:
            raise ValueError(f"catalogue: case {spec.name} promises |logits| > 50, its largest "
                             f"is {peak:.1f}; choose another param_seed")


def summary(cfg) -> str:
    """One line for ``diffmem fixtures list``: controller, sizes, heads, shift set."""
    shifts = ",".join(str(s) for s in cfg.shifts)
    return (f"{'lstm' if cfg.controller == 'lstm' else 'ff'} X={cfg.X} Y={cfg.Y} H={cfg.H} "
            f"N={cfg.N} M={cfg.M} R={cfg.R} Wh={cfg.Wh} shifts={shifts}")


def build(spec: CaseSpec):
    """(config, params, inputs, targets, mask, meta) of one case, from its spec alone."""
    if spec.pretrained is not None:
        cfg, params = trained_model(pretrained_dir() / f"{spec.pretrained}.npz")
        source = f"pretrained/{spec.pretrained}.npz"
    else:
        cfg = ntm.NTMConfig.from_dict(spec.config)
        params = ntm.init_params(cfg, spec.param_seed, spec.regime)
        source = f"init_params(seed={spec.param_seed}, regime={spec.regime!r})"
    for edit in spec.edits:
        _apply_edit(params, cfg, edit)
    inputs, targets, mask, lengths = _data(spec.data, cfg)
    d = spec.data
    meta = {
        "description": spec.description,
        "summary": summary(cfg),
        "tags": list(spec.tags),
        "regime": "trained" if spec.pretrained else spec.regime,
        "seeds": {"params": None if spec.pretrained else spec.param_seed, "data": d.seed},
        "params_source": source,
        "param_edits": [list(e) for e in spec.edits],
        "data": {"task": d.task, "options": dict(d.options), "batch_size": d.batch_size,
                 "lo": d.lo, "hi": d.hi, "pad_to": d.pad_to, "mask_weights": d.mask_weights,
                 "lengths": lengths},
    }
    return cfg, params, inputs, targets, mask, meta
