"""What a model family is: the one seam between a model and the rest of diffmem.

A family is one folder, ``models/<name>/``, holding its spec, config, reference, batched
form, parameter initialisation, trace names and stage order, fixture case catalogue, bug
catalogue and tasks.  Its ``__init__`` exposes ``FAMILY = Family(...)``, and one line of
``pyproject.toml`` registers it under the ``diffmem.models`` entry-point group.  The
harness, the backend drivers, fixtures, calibration and training see a model only
through the fields below (``diffmem.models.family_for(config)``).

Contract of each field (cfg is the family's frozen, hashable config):

- ``config_from_dict(d)``: validates and returns the config; the config has ``model``
  (one of ``models``), ``input_size`` and ``output_size`` (X and Y: the widths of inputs
  and targets), ``to_dict()`` (plain JSON) and is immutable.
- ``param_shapes(cfg)``: ``{name: shape}`` in the spec's table order.
- ``init_params(cfg, seed, regime)``: float64 parameters; ``regime`` one of ``regimes``.
- ``trace_entries(cfg)``: ``[TraceEntry(name, stage, heads)]`` in stage order, ``stage`` a
  ``Stage``; ``heads`` names what the axis after T indexes ("write", "read", "stack"),
  or None.  ``trace_shapes(cfg, steps)``: ``{name: per-step shape}`` (no B, no T; a
  stack's rows depend on the number of steps).
- ``run_reference(cfg, params, inputs, targets, mask, *, dtype, want_trace, want_grads)``:
  the frozen reference on a batch: ``{"logits", "loss", "grads", "grad_inputs", "trace"}``
  (numpy, float64 unless ``dtype`` says otherwise).
- ``batched(xp, cfg)``: the batched form over an ops table ``xp``; an object with
  ``initial_state(params, batch, steps)`` (``steps``: the T of the run, which sizes a
  stack's preallocated rows), ``step(params, state, x) -> (state, record)`` (record:
  trace name -> [B, ...]) and ``loss(logits, targets, mask) -> [B]``.  Both bundled
  drivers (torch, JAX) run any family's batched form.
- ``cases()``: the fixture catalogue, a tuple of ``FixtureCase``.
- ``heldout(seed, index)``: a ``FixtureCase`` drawn at random (shapes no fixture has).
- ``bugs()``: ``{name: class}``, subclasses of the batched form, each with ``STAGES``
  (the ``Stage`` names, or "loss"/"gradient-only", where the harness must localise it)
  and ``NEEDS`` (case tags that expose it).
- ``summary(cfg)``: one line for ``diffmem fixtures list``.
- ``training``: the family's training hook (``models/<family>/training.py``), or None
  when the family cannot be trained by ``diffmem train``.
"""

from __future__ import annotations

import dataclasses
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Callable


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


@dataclass(frozen=True)
class Family:
    name: str
    spec_version: str
    models: tuple
    spec: tuple                     # paths of the spec files
    config_from_dict: Callable
    param_shapes: Callable
    init_params: Callable
    regimes: tuple
    trace_entries: Callable
    trace_shapes: Callable
    run_reference: Callable
    batched: Callable
    cases: Callable
    heldout: Callable
    bugs: Callable
    summary: Callable
    variants: Callable = field(default=lambda: {})   # {name: correct rewrite of batched}
    # ``diffmem calibrate``'s random configurations: an object with
    # ``random_config(rng, small) -> draw`` and ``random_case(seed, group, index, draw) ->
    # (name, cfg, params, inputs, targets, mask)``; None: the held-out cases are used.
    calibration: object = None
    # The precisions the reference runs (and a fixture stores): float64 and float32 always;
    # the emulated low-precision modes where the family's reference implements them.
    dtypes: tuple = ("float64", "float32", "tf32", "bfloat16", "float16")
    tasks: object = None            # the family's task registry (``models/<family>/tasks``)
    # What ``diffmem train`` / ``diffmem test`` need (``models/<family>/training.py``): task
    # names, size settings and their flags, defaults, ``model_config``, ``metrics``,
    # ``text_view`` and ``picture``.  Imported by the training package only; the module
    # itself imports nothing of ``diffmem.training`` at load time.
    training: object = None
    # Op-level families (delta): the packed inputs' blocks, [(name, start, width)], whose
    # gradients are compared each against its own scale (grad_inputs/<name>); and names
    # the harness's messages spell out ({"grads/dht": "final state ht"}).  None: neither.
    input_blocks: Callable | None = None
    display_names: Callable | None = None
    # describe_step(cfg, t) -> e.g. "chunk 2, sequence 0": where step t sits, added to the
    # first-divergence line (None: nothing added).
    describe_step: Callable | None = None

    def stages(self, cfg) -> list:
        """The family's stages for this config, in order."""
        return sorted({e.stage for e in self.trace_entries(cfg)})
