"""The typed hooks a family may give beside its model: its tasks, its training, its
calibration draws.  A family sets ``Family.tasks``, ``Family.training`` and
``Family.calibration`` to instances of these (or leaves them None).
"""

from __future__ import annotations

import pathlib
from abc import ABC, abstractmethod

# diffmem's own pretrained models (the repository's pretrained/ folder, installed as
# diffmem/pretrained beside diffmem/models): the bundled families' hooks list their files
# there, a family from another package lists its own.
BUNDLED_PRETRAINED = pathlib.Path(__file__).resolve().parent.parent / "pretrained"


class TaskSet:
    """A family's task registry: generators by name, the knob --lo/--hi draw, the widths
    and batches.  Built from the family's ``tasks/registry.py``.

    ``generators``: name -> generator (``rng`` first, keyword options, returning float64
    ``(inputs [T, X], targets [T, Y], mask [T])``); ``knobs``: name -> the option
    ``make_batch`` draws per sequence ("length", "n_items", "n"); ``sizes(name,
    **options) -> (X, Y)``; ``make_batch(name, rng, batch_size, lo, hi, **options) ->
    (inputs, targets, mask, lengths)``.
    """

    def __init__(self, generators: dict, knobs: dict, sizes, make_batch):
        self.generators = dict(generators)
        self.knobs = dict(knobs)
        self._sizes, self._make_batch = sizes, make_batch

    @property
    def names(self) -> tuple:
        return tuple(self.generators)

    def knob(self, task: str) -> str:
        return self.knobs[task]

    def sizes(self, task: str, **options) -> tuple:
        """(X, Y) of ``task`` with these options."""
        return self._sizes(task, **options)

    def make_batch(self, task, rng, batch_size, lo, hi, **options):
        """``batch_size`` sequences, the knob drawn from [lo, hi]: (inputs, targets, mask,
        lengths)."""
        return self._make_batch(task, rng, batch_size, lo, hi, **options)


class TrainingHook(ABC):
    """What ``diffmem train`` / ``diffmem test`` need to train and show a family's model.

    Class attributes: ``TASKS`` (the task names it trains, unique across families),
    ``SIZE_FLAGS`` (setting key -> the flag that sets it; ``add_arguments`` adds the
    flags only this family has, ``diffmem train`` itself the shared ``--units`` and
    ``--controller``), ``INT_SIZES`` (integer size key -> its least value, checked before
    any work), ``DEFAULTS`` (a new run's sizes, and any generic run setting it replaces,
    e.g. "backend"), ``METRICS`` ((key, label, format) of its metrics, the first the
    headline).
    """

    TASKS: tuple = ()
    SIZE_FLAGS: dict = {}
    INT_SIZES: dict = {}
    DEFAULTS: dict = {}
    METRICS: tuple = ()

    def add_arguments(self, parser) -> None:
        """Add the family's own size flags to ``diffmem train``'s argparse parser (in an
        argument group of its own); the setting key is each flag's ``dest``."""

    def pretrained(self) -> dict:
        """name -> path of the family's pretrained model files (``pretrained:NAME``)."""
        return {}

    def optimal_cost(self, task, inputs, targets, mask, options):
        """Per-sequence cost (nats, [B]) of the task's Bayes-optimal predictor, where one
        exists (the NTM's dynamic n-grams); None otherwise."""
        return None

    def test_ranges(self, task, lo, hi) -> list:
        """[(lo, hi)] ``diffmem pretrained table`` tests a model trained on lo..hi on: the
        training range, then beyond it up to twice its longest."""
        return [(lo, hi), (hi + 1, 2 * hi)]

    @abstractmethod
    def default_range(self, task) -> tuple:
        """(lo, hi) of the task's knob for a new run."""

    @abstractmethod
    def knob_word(self, task) -> str:
        """What --lo/--hi count, e.g. 'lengths'."""

    @abstractmethod
    def check_sizes(self, sizes: dict) -> None:
        """ValueError naming the flag for a size the generic checks cannot judge."""

    @abstractmethod
    def model_config(self, task, options: dict, sizes: dict):
        """The family's config for a task with these options and sizes."""

    @abstractmethod
    def describe(self, cfg) -> str:
        """A few words on the sizes (a table row)."""

    @abstractmethod
    def describe_long(self, cfg) -> str:
        """Every size (the line a run starts with)."""

    @abstractmethod
    def metrics(self, logits, targets, mask, task, options, inputs=None) -> dict:
        """The ``METRICS`` keys -> their values on a batch."""

    @abstractmethod
    def text_view(self, cfg, run, view) -> str:
        """One sequence's run ({"inputs", "targets", "mask", "logits", "trace"}, no B)
        as text; ``view`` holds the generic grid helpers (``diffmem.training.view``:
        ``grid``, ``number_block``, ``rows_block``, ``windowed``, ``BLANK``)."""

    @abstractmethod
    def picture(self, cfg, run, path, title="", plot=None):
        """The same as a picture written to ``path``; ``plot`` holds the generic plot
        helpers (``diffmem.training.plot``)."""


class CalibrationHook(ABC):
    """``diffmem calibrate``'s random configurations of a family."""

    @abstractmethod
    def random_config(self, rng, small: bool = False) -> dict:
        """A draw (plain JSON): a configuration and how its cases' data are made; cases
        of one draw share their [B, T]."""

    @abstractmethod
    def random_case(self, seed: int, group: int, index: int, draw: dict) -> tuple:
        """One freshly seeded case of a draw: (name, cfg, params, inputs, targets, mask)."""
