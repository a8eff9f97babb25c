"""Driving a family's batched form with JAX: ``lax.scan`` over time, ``jit``, ``value_and_grad``.

float64: JAX makes 64-bit arrays only while its ``jax_enable_x64`` flag is on.  The
backend never flips that flag globally; it runs each float64 call inside the
``jax.enable_x64(True)`` context manager (thread-local, restored on exit), so importing
or using this backend changes nothing for other JAX code in the process.

float32: every program is traced and compiled inside
``jax.default_matmul_precision("highest")`` (again a context, never the global flag), so
its dots are full float32 on every device (XLA would use TF32 on a recent NVIDIA GPU).
The low-precision modes are in ``precision_modes.py``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from diffmem.backends.driver import (JAX_XLA_SETTINGS, backend_name, build, check_dtype,
                                     check_run_args, jax_xla_setting, parse_device, supports)
from diffmem.backends.protocol import Result
from diffmem.models import bind

from . import precision_modes as _precision
from . import stored as _stored
from .ops import xp


def jax_device(device):
    """'cpu' | 'cuda' | 'cuda:N' -> a jax Device, or ValueError if it is not there."""
    kind, index = parse_device(device)
    platform = "cpu" if kind == "cpu" else "gpu"
    try:
        devices = jax.devices(platform)
    except RuntimeError:
        raise ValueError(f"device {device!r}: JAX {jax.__version__} sees no {platform} "
                         f"(platforms present: {sorted({d.platform for d in jax.devices()})}); "
                         f"install jax[cuda12] or use device 'cpu'") from None
    if index >= len(devices):
        raise ValueError(f"device {device!r}: JAX sees {len(devices)} {platform} device(s)")
    return devices[index]


def precision(dtype, platform="cpu"):
    """The context a computation in ``dtype`` runs in: x64 on only for float64, matrix
    products HIGHEST (TF32 only for mode tf32 on a GPU); see precision_modes.py."""
    return _precision.precision(dtype, platform)


def ops_table(dtype="float32", platform="cpu"):
    """The ops table of ``dtype``; a low-precision mode's rounds its products
    (precision_modes.py)."""
    return xp if dtype in ("float32", "float64") else _precision.ops_for(dtype, platform)


def make_model(cfg, model_cls=None, dtype="float32", platform="cpu"):
    """The batched form of ``cfg`` (a config, its dict, or its bound ``Model``): the
    family's own, or ``model_cls``, a bug or variant subclass of it."""
    return build(cfg, ops_table(dtype, platform), model_cls)


def forward(model, params, inputs, want_trace=False, remat=True):
    """inputs [B, T, X] -> (logits [B, T, Y], trace {name: [B, T, ...]} or None).

    Pure: ``jit``, ``grad`` and ``vmap`` apply.  Time is the scanned axis.  ``remat``
    recomputes each step's intermediates in the backward pass instead of storing them
    for every step ([T, B, N, M] arrays): the same values, less memory traffic, and
    faster on CPU (see README.md, "Backends").
    """
    state = model.initial_state(params, inputs.shape[0], inputs.shape[1])

    def step(state, x_t):
        state, record = model.step(params, state, x_t)
        return state, (record if want_trace else {"logits": record["logits"]})

    _, records = jax.lax.scan(jax.checkpoint(step) if remat else step, state,
                              jnp.swapaxes(inputs, 0, 1))
    records = {k: jnp.swapaxes(v, 0, 1) for k, v in records.items()}
    return records["logits"], (records if want_trace else None)


def sequence_loss(model, params, inputs, targets, mask):
    """Per-sequence loss [B] (NTM.md "Loss"); pure, differentiable in params and inputs."""
    logits, _ = forward(model, params, inputs)
    return model.loss(logits, targets, mask)


def _program(model, want_trace, want_grads):
    """(params, inputs, targets, mask) -> (loss, logits, trace, grads, grad_inputs)."""
    def total(params, inputs, targets, mask):
        whole = getattr(model, "run_sequence", None)   # a whole-sequence form (no step)
        if whole is None:
            logits, trace = forward(model, params, inputs, want_trace)
            loss = model.loss(logits, targets, mask)
        else:
            logits, loss, trace = whole(params, inputs, targets, mask, want_trace)
        return jnp.sum(loss), (loss, logits, trace)

    def program(params, inputs, targets, mask):
        if want_grads:
            (_, (loss, logits, trace)), (grads, grad_inputs) = jax.value_and_grad(
                total, argnums=(0, 1), has_aux=True)(params, inputs, targets, mask)
            return loss, logits, trace, grads, grad_inputs
        _, (loss, logits, trace) = total(params, inputs, targets, mask)
        return loss, logits, trace, None, None
    return program


def compiler_options(platform):
    """The XLA options a program for ``platform`` is compiled with (None: XLA's own):
    on a CPU, the quick build unless ``DIFFMEM_JAX_XLA=default`` (backends/driver.py,
    ``JAX_XLA_SETTINGS``, says why); a GPU keeps XLA's defaults."""
    options = JAX_XLA_SETTINGS[jax_xla_setting()] if platform == "cpu" else None
    return None if options is None else dict(options)


# (model_cls, cfg, want_trace, want_grads, shapes, dtype, device, XLA build) -> compiled
# program.
# Module-wide, so that every backend object in the process shares what was compiled.
_COMPILED = {}


def lower_program(model_cls, cfg, want_trace, want_grads, args, dtype, platform="cpu"):
    """The program traced and lowered (``jax.stages.Lowered``) in ``dtype``'s precision
    context: ``.as_text()`` shows each dot's precision, ``.compile()`` runs it."""
    with precision(dtype, platform):
        program = jax.jit(_program(make_model(cfg, model_cls, dtype, platform), want_trace,
                                   want_grads))
        return program.lower(*args)


def compiled_program(model_cls, cfg, want_trace, want_grads, args, dtype, device):
    """The compiled program for these arguments and the seconds spent compiling it now
    (tracing and lowering included; on a CPU through the stored export when
    ``DIFFMEM_JAX_PROGRAMS`` names a folder, ``stored.py``)."""
    shapes = tuple((k, tuple(v.shape)) for k, v in sorted(args[0].items())) + \
        tuple(tuple(a.shape) for a in args[1:])
    platform = "gpu" if device.platform != "cpu" else "cpu"
    options = compiler_options(platform)
    key = (model_cls, cfg, want_trace, want_grads, shapes, dtype, device,
           tuple(sorted((options or {}).items())))
    if key in _COMPILED:
        return _COMPILED[key], 0.0
    started = time.perf_counter()
    folder = _stored.directory()
    with precision(dtype, platform):
        model = make_model(cfg, model_cls, dtype, platform)
        program = _program(model, want_trace, want_grads)
        if folder is not None and platform == "cpu" and _stored.keeps(model, bind(cfg).family):
            path = folder / _stored.key(cfg, model, want_trace, want_grads, args, dtype,
                                        platform)
            lowered = _stored.lowered(program, args, path)
        else:
            lowered = jax.jit(program).lower(*args)
        _COMPILED[key] = lowered.compile(compiler_options=options)
    return _COMPILED[key], time.perf_counter() - started


class JaxBackend:
    # One program for every dtype: its float64 run may vouch for what float32 cannot
    # resolve (docs/harness.md, "Verdicts").
    float64_is_same_kernel = True

    def __init__(self, device="cpu", dtype="float32", model_cls=None):
        self.dtype = check_dtype(dtype)
        self.device = jax_device(device)
        jax_xla_setting()   # a bad DIFFMEM_JAX_XLA is named before anything runs
        self.model_cls = model_cls
        self.name = backend_name("jax", device, dtype, model_cls)
        self.compile_seconds = 0.0   # total spent compiling, reported apart from running

    def supports(self, config):
        """A bug or variant subclass runs only its own family's configs, and a family's
        form only on a table with every operation it needs."""
        platform = "gpu" if self.device.platform != "cpu" else "cpu"
        return supports(config, self.model_cls, ops_table(self.dtype, platform))

    def run(self, config, params, inputs, targets, mask, *, want_trace, want_grads):
        model, params, inputs, targets, mask = check_run_args(
            config, params, inputs, targets, mask, self.dtype)
        platform = "gpu" if self.device.platform != "cpu" else "cpu"
        # A call without trace or gradients runs the traced program and drops what it
        # did not ask for: on a CPU, compiling is nearly all of a check's time (a
        # forward-only program would add a quarter to it), and the untraced call of a
        # check then reuses the program its traced call compiled.
        program_wants = (True, True) if not (want_trace or want_grads) else \
            (want_trace, want_grads)
        with precision(self.dtype, platform):
            args = jax.device_put((params, inputs, targets, mask), self.device)
            program, compile_s = compiled_program(self.model_cls, model.config,
                                                  *program_wants, args, self.dtype,
                                                  self.device)
            started = time.perf_counter()
            loss, logits, trace, grads, grad_inputs = jax.device_get(program(*args))
            run_s = time.perf_counter() - started
        self.compile_seconds += compile_s
        result = Result(logits=logits, loss=loss, grads=grads if want_grads else None,
                        grad_inputs=grad_inputs if want_grads else None)
        if want_trace:
            result.trace = {k: trace[k] for k in model.trace_names}
        result.extras.update(compile_s=compile_s, run_s=run_s)
        return result
