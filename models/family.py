"""What a model family is: the one seam between a model and the rest of diffmem.

A family is one folder, ``models/<name>/``, holding its spec, config, reference, batched
form, parameter initialisation, trace names and stage order, fixture case catalogue, bug
catalogue and tasks.  Its ``__init__`` defines a subclass of ``Family`` and exposes one
instance, ``FAMILY``; one line of ``pyproject.toml`` (or of a third-party package's own)
registers it under the ``diffmem.models`` entry-point group.

Callers never ask a family about a config twice: ``Family.bind(config)`` (or
``diffmem.models.bind`` for a config of any family, or its plain dict) returns the
config's ``Model``, made once per config, which holds the parameter shapes and trace
entries and runs the reference and the batched form.  The harness, the backend drivers,
fixtures, calibration and training see a model only through ``Model`` and the
family's catalogues and hooks (``diffmem.models.hooks``).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections import namedtuple
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from diffmem.reference.precision import PRECISIONS

from .hooks import CalibrationHook, TaskSet, TrainingHook


def check_fields(cls, d, required):
    """A config dataclass's ``from_dict`` checks: ``d`` is a dict of its fields, with the
    ``required`` ones; one line naming the class and the field otherwise."""
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__}.from_dict: expected a dict, got {type(d).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{cls.__name__}.from_dict: unknown field(s) {unknown}; "
                         f"known fields are {sorted(known)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(f"{cls.__name__}.from_dict: missing required field(s) {missing}")


@dataclass(frozen=True, order=True)
class Stage:
    """A stage of a family's step, in the spec's order: ``number`` orders them (the
    NTM's numbering is NTM.md's 1-15), ``name`` says what it is."""
    number: int
    name: str

    def __str__(self):
        return f"{self.number} ({self.name})"


# Where a difference is localised when no trace stage holds it (``harness.localise``);
# numbered after every family's stages.
OUTPUT = Stage(10**6 + 1, "logits")           # the logits differ, every trace entry matched
LOSS = Stage(10**6 + 2, "loss")               # trace and logits matched, the loss differs
GRADIENT_ONLY = Stage(10**6 + 3, "gradient-only")   # the forward pass matched


# Tile sizes kernels commonly cut batch, steps and rows into.  Held-out draws pick sizes
# none of them divides (``untiled``), so a kernel that drops or mishandles a partial tile
# (a batch chunk of 32 losing its tail, 64 rows per block) fails on every draw of every
# seed, not on the draws that happen to be ragged.
TILES = (16, 32, 64, 128)


def untiled(rng, lo: int, hi: int, times: int = 1) -> int:
    """An integer n in [lo, hi] such that ``times * n`` (the size a kernel sees, e.g. a
    deque's 2T rows) leaves a remainder for every tile of ``TILES``, drawn uniformly
    among those."""
    choices = [n for n in range(lo, hi + 1) if all((times * n) % t for t in TILES)]
    if not choices:
        raise ValueError(f"untiled: no size in [{lo}, {hi}] leaves a remainder for tiles "
                         f"{TILES}")
    return int(choices[int(rng.integers(len(choices)))])


NoiseFrom = namedtuple("NoiseFrom", "step stage reason")
NoiseFrom.__doc__ = """``Family.noise_from``'s answer: from ``step`` (0-based) at ``stage``
(a ``Stage``) on, and at every later step, the case's tensors are beyond the precision's
resolution; ``reason`` says why, one line."""

TraceEntry = namedtuple("TraceEntry", "name stage heads steps", defaults=(None,))
TraceEntry.__doc__ = """One trace array: its name, its ``Stage``, what the axis after T
indexes ("write", "read", "stack", ...) or None, and ``steps``: None (the array holds
every step, [B, T, ...]) or a function ``steps(T) -> [s_0, s_1, ...]`` of the steps it
holds (a strided entry: [B, len(steps), ...], index j is step s_j)."""


@dataclass(frozen=True)
class FixtureCase:
    """One catalogued case: everything about it follows from ``build()``, a pure function,
    so ``diffmem fixtures generate`` rebuilds byte-identical files.

    ``build()`` -> ``(cfg, params, inputs, targets, mask, meta)``; ``meta`` is plain JSON
    (description, summary, tags, regime, seeds, data...).  ``check(case_runs)``, when
    given, raises ValueError if the reference's runs break a promise of the case.
    ``cost`` orders generation (largest first, e.g. B * T); ``missing`` says why a
    catalogued case cannot be built now (e.g. its trained model is not there yet)."""
    name: str
    description: str
    build: Callable
    tags: tuple = ()
    check: Callable | None = None
    cost: int = 0
    missing: str | None = None


class Family(ABC):
    """A model family: subclass it, set the class attributes, implement the methods.

    The per-config methods take the family's config (frozen, hashable, validated when
    made; it has ``model``, one of ``models``, ``input_size`` and ``output_size``, the
    widths X and Y of inputs and targets, and ``to_dict()``).  They are called once per
    config, by ``bind``; everyone else asks the bound ``Model``.
    """

    name: str                       # the entry point's name, e.g. "ntm"
    spec_version: str               # e.g. "ntm/1": a fixture of another version is refused
    models: tuple                   # the config ``model`` names the family runs
    spec: tuple                     # paths of the spec files
    config_class: type              # the config dataclass (``from_dict``, ``to_dict``)
    regimes: tuple                  # the parameter regimes ``init_params`` knows
    # The batched form: a class made as ``batched(ops, cfg)`` over an ops table, with
    # ``initial_state(params, batch, steps)`` (``steps``: the T of the run, which sizes a
    # stack's preallocated rows), ``step(params, state, x) -> (state, record)`` (record:
    # trace name -> [B, ...], and "logits") and ``loss(logits, targets, mask) -> [B]``.
    # Its ``OPS`` names the array operations it takes from the table; a bug or variant
    # subclass that needs more adds them to its own ``OPS``.
    batched: type
    # The precisions the reference runs (and a fixture stores): float64 and float32
    # always; the emulated low-precision modes where the family's reference has them.
    dtypes: tuple = PRECISIONS
    # ``diffmem fuzz``: the axes the family's cases scale along, each (smallest, largest),
    # the largest a GPU kernel meets; empty: the family is not fuzzed.
    fuzz_axes: dict = {}
    # Hooks (``diffmem.models.hooks``); None where the family has none.  Calibration
    # without a hook draws the family's held-out cases.
    training: TrainingHook | None = None
    calibration: CalibrationHook | None = None
    tasks: TaskSet | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        form = cls.__dict__.get("batched")
        if form is not None and not isinstance(getattr(form, "OPS", None), frozenset):
            raise TypeError(f"family {cls.__name__}: its batched form {form.__name__} declares "
                            f"no OPS (a frozenset of the ops-table operations it uses)")

    # ------------------------------------------------------------ configs
    def config_from_dict(self, d):
        """A config dict (``to_dict()``) -> the validated config."""
        return self.config_class.from_dict(d)

    def bind(self, config) -> "Model":
        """The ``Model`` of ``config`` (a config of this family, or its dict), made once
        per config."""
        if isinstance(config, dict):
            config = self.config_from_dict(config)
        elif not isinstance(config, self.config_class):
            raise ValueError(f"config: expected a {self.config_class.__name__} (family "
                             f"{self.name}) or its dict, got {type(config).__name__}")
        return _bound(self, config)

    @property
    def ops(self) -> frozenset:
        """The array operations the family's batched form needs from an ops table."""
        return frozenset(self.batched.OPS)

    # ------------------------------------------------------------ per config
    @abstractmethod
    def param_shapes(self, cfg) -> dict:
        """``{name: shape}`` in the spec's table order."""

    @abstractmethod
    def init_params(self, cfg, seed: int, regime: str) -> dict:
        """float64 parameters; ``regime`` one of ``regimes``."""

    @abstractmethod
    def trace_entries(self, cfg) -> list:
        """``[TraceEntry(name, stage, heads)]`` in stage order."""

    @abstractmethod
    def trace_shapes(self, cfg, steps: int) -> dict:
        """``{name: per-step shape}`` (no B, no T; a stack's rows depend on T)."""

    @abstractmethod
    def run_reference(self, cfg, params, inputs, targets, mask, *, dtype, want_trace,
                      want_grads) -> dict:
        """The frozen reference on a batch: ``{"logits", "loss", "grads", "grad_inputs",
        "trace"}`` (numpy, float64 unless ``dtype`` says otherwise)."""

    @abstractmethod
    def summary(self, cfg) -> str:
        """One line for ``diffmem fixtures list``."""

    # ------------------------------------------------------------ catalogues
    @abstractmethod
    def cases(self) -> tuple:
        """The golden fixture catalogue, a tuple of ``FixtureCase``."""

    @abstractmethod
    def heldout(self, seed: int, index: int) -> FixtureCase:
        """A case drawn at random (shapes no fixture has)."""

    @abstractmethod
    def bugs(self) -> dict:
        """``{name: class}``: subclasses of the batched form, each with ``STAGES`` (the
        ``Stage`` names, or "loss"/"gradient-only", where the harness must localise it)
        and ``NEEDS`` (case tags that expose it)."""

    def sizes(self, cfg, steps: int) -> dict:
        """The sizes a kernel may tile besides batch and steps, for the held-out draws'
        promise (every draw leaves a remainder for ``TILES``; some draw of every seed has
        3 heads): ``{"rows": int}`` where the model has memory rows (None: none) and
        ``{"heads": (int, ...)}`` for its head-like axes (read and write heads, stacks)."""
        return {}

    def fuzz_case(self, seed: int, sizes: dict) -> FixtureCase:
        """A case of ``sizes`` (a value per ``fuzz_axes`` axis), everything else drawn
        from ``seed``: the same seed with smaller sizes is the same case shrunk."""
        raise NotImplementedError(f"family {self.name} has no fuzz cases (fuzz_axes is "
                                  f"empty)")

    def noise_from(self, case, dtype: str) -> "NoiseFrom | None":
        """Where ``dtype`` stops resolving ``case`` (a fixture's or a drawn ``Case`` of this
        family) because of a discrete decision its own reference run in that precision
        may take otherwise than float64 (the DNC's sort in a low-precision mode): a
        ``NoiseFrom``, or None (the harness's usual per-tensor test alone).  The harness
        holds the trace entries from that step and stage on, and every output and
        gradient, to the noise bound only, with the reason; the float64 run of the same
        kernel must check them, and a run in ``dtype`` alone never passes on them."""
        return None

    def variants(self) -> dict:
        """``{name: class}``: correct rewrites of the batched form, which must pass."""
        return {}

    def gradcheck_cases(self) -> tuple:
        """The reference's self-check (``diffmem gradcheck``): a tuple of
        ``diffmem.reference.gradcheck.GradcheckCase``, each away from the family's kinks
        and ties; empty: the family's gradients are not checked by that command."""
        return ()

    # ------------------------------------------------------------ op-level families
    # Optional comparison hooks (docs/harness.md, "Op-level families"); the defaults
    # change nothing.
    def input_blocks(self, cfg):
        """``[(name, start, width)]`` of the packed inputs, whose gradients the harness
        compares block by block (``grad_inputs/<name>``), each against its own scale;
        None: ``grad_inputs`` is compared whole."""
        return None

    def display_names(self, cfg) -> dict:
        """``{tensor: meaning}`` spelled out in messages, e.g. ``{"grads/dht": "final
        state ht"}``."""
        return {}

    def describe_step(self, cfg, t):
        """Where step ``t`` sits (e.g. "chunk 2"), added to the first-divergence line;
        None: nothing added."""
        return None

    def __repr__(self):
        return f"<family {self.name} ({self.spec_version})>"


@lru_cache(maxsize=4096)   # a calibration draws thousands of configs
def _bound(family, config):
    return Model(family, config)


class Model:
    """A config bound to its family (``Family.bind``): everything diffmem asks about one
    model, worked out once."""

    def __init__(self, family: Family, config):
        self.family = family
        self.config = config
        self.param_shapes = {k: tuple(v) for k, v in family.param_shapes(config).items()}
        self.trace_entries = tuple(family.trace_entries(config))
        self.trace_names = tuple(e.name for e in self.trace_entries)
        self.stages = sorted({e.stage for e in self.trace_entries})

    @property
    def name(self) -> str:
        """The config's ``model`` (e.g. "ntm", "queue")."""
        return self.config.model

    @property
    def spec_version(self) -> str:
        return self.family.spec_version

    @property
    def dtypes(self) -> tuple:
        return self.family.dtypes

    def trace_shapes(self, steps: int) -> dict:
        return self.family.trace_shapes(self.config, steps)

    def init_params(self, seed: int, regime: str = "init") -> dict:
        return self.family.init_params(self.config, seed, regime)

    def run_reference(self, params, inputs, targets, mask, *, dtype="float64",
                      want_trace=True, want_grads=True, **options) -> dict:
        return self.family.run_reference(self.config, params, inputs, targets, mask,
                                         dtype=dtype, want_trace=want_trace,
                                         want_grads=want_grads, **options)

    def summary(self) -> str:
        return self.family.summary(self.config)

    def supports_form(self, form):
        """True, or why ``form`` (a bug or variant class) cannot run this config: it is a
        subclass of another family's batched form."""
        if form is None or issubclass(form, self.family.batched):
            return True
        return (f"{form.__name__} is another family's model: it cannot run model "
                f"{self.name!r} (whose batched form is {self.family.batched.__name__})")

    def missing_ops(self, ops, form=None) -> list:
        """The operations ``form`` (default the family's batched form) needs that the ops
        table ``ops`` lacks, sorted."""
        form = form or self.family.batched
        return sorted(op for op in form.OPS if not hasattr(ops, op))

    def batched(self, ops, form=None):
        """The batched form (or ``form``, a bug or variant subclass of it) over ``ops``;
        ``MissingOps`` when the table lacks an operation it needs."""
        form = form or self.family.batched
        missing = self.missing_ops(ops, form)
        if missing:
            raise MissingOps(f"{type(ops).__name__} lacks the array operation(s) "
                             f"{', '.join(missing)} that {form.__name__} (family "
                             f"{self.family.name}) needs")
        return form(ops, self.config)

    def __repr__(self):
        return f"<{self.family.name} model {self.config!r}>"


class MissingOps(Exception):
    """An ops table that lacks an operation a batched form needs (``Model.batched``)."""
