"""Checks of command-line values, run before any work: each failure is a ``UsageError``
naming the flag and what was expected (one line, exit status 2)."""

import math
import os
import tempfile

from diffmem.usage import UsageError, check_output_path


def check_int(flag, value, lo=1, what=None):
    if value is not None and value < lo:
        raise UsageError(f"{flag} {value}: expected {what or f'an integer >= {lo}'}")
    return value


def check_number(flag, value, positive=True):
    if value is None:
        return value
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise UsageError(f"{flag} {value}: expected a finite number "
                         f"{'> 0' if positive else '>= 0'}")
    return value


def check_output(flag, path, suffixes=None):
    """An output file we will be able to write, checked before any work: its folder
    exists and takes files, and the path is new or a regular file."""
    if suffixes and not path.lower().endswith(suffixes):
        raise UsageError(f"{flag} {path}: expected a file name ending in "
                         f"{', '.join(suffixes)}")
    check_output_path(path, flag)   # a folder, a device node: never replaced
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, probe = tempfile.mkstemp(prefix=".diffmem-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write in {folder} ({exc.strerror})") from None
    return path


def load_model_arg(flag, spec):
    """A model from a command-line value: a file, or pretrained:NAME."""
    from diffmem import pretrained
    from .modelfile import ModelFileError, load_model
    try:
        path = pretrained.resolve(spec)
    except ValueError as exc:
        raise UsageError(f"{flag} {spec}: {exc}") from None
    try:
        return load_model(path)
    except ModelFileError as exc:
        hint = ""
        stem = os.path.splitext(os.path.basename(spec))[0]
        if exc.problem == "no such file" and stem in pretrained.models() and os.sep not in spec:
            hint = f" (the pretrained model is pretrained:{stem})"
        raise UsageError(f"{flag} {spec}: {exc.problem}{hint}") from None


def _split(message):
    """'width: expected ...' -> ('width', 'expected ...'); the tasks name the argument first."""
    name, sep, rest = message.partition(": ")
    return (name, rest) if sep and " " not in name else (None, message)


def check_task_range(task, options, lo, hi, lo_flag="--lo", hi_flag="--hi", family=None):
    """The task (of ``family``, default its own) accepts its options and the knob at lo
    and at hi (one short batch each)."""
    import inspect

    import numpy as np

    from . import data
    knob = data.knob(task, family)
    allowed = set(inspect.signature(data.generator(task, family)).parameters) - {"rng", knob}
    unknown = sorted(set(options) - allowed)
    if knob in unknown:
        raise UsageError(f"--option {knob}: {task}'s {knob} is drawn from "
                         f"--lo..--hi; give those instead")
    if unknown:
        flag = "--width" if unknown == ["width"] else "--option"
        raise UsageError(f"{flag}: {task} has no option {', '.join(unknown)} (its options: "
                         f"{', '.join(sorted(allowed)) or 'none'})")
    try:
        data.sizes(task, options, family)
    except ValueError as exc:
        name, rest = _split(str(exc))
        if name == "width" and "width" in options:
            raise UsageError(f"--width {options['width']}: {rest}") from None
        if name in options:
            raise UsageError(f"--option {name}={options[name]}: {rest}") from None
        raise UsageError(f"--option: {exc}") from None
    if hi < lo:
        raise UsageError(f"{hi_flag} {hi}: expected an integer >= {lo_flag} ({lo})")
    # Each end alone (a knob out of the task's range names its flag), then the range as a
    # whole (bigram_flip draws even lengths: --lo 3 --hi 6 is fine, --lo 3 --hi 3 is not).
    for flag, value in ((lo_flag, lo), (hi_flag, hi)):
        try:
            data.batch(task, np.random.default_rng(0), 1, value, value, options, family)
        except ValueError as exc:
            if str(exc).startswith(f"{task}: [lo, hi]"):
                continue   # no valid knob at this end alone; the range is checked below
            name, rest = _split(str(exc))
            if name in (knob, "lo", "hi"):
                raise UsageError(f"{flag} {value}: {task}'s {knob} (set by --lo/--hi) "
                                 f"{rest}") from None
            if name in options:
                raise UsageError(f"--option {name}={options[name]} with {flag} {value}: "
                                 f"{rest}") from None
            raise UsageError(f"{flag} {value}: {exc}") from None
    try:
        data.batch(task, np.random.default_rng(0), 1, lo, hi, options, family)
    except ValueError as exc:
        raise UsageError(f"{lo_flag} {lo} {hi_flag} {hi}: {exc}") from None


def check_engine(flag, name):
    """The engine's framework is installed (checked before the run starts)."""
    import importlib.util
    module = {"torch": "torch", "jax": "jax"}.get(name)
    if module and importlib.util.find_spec(module) is None:
        raise UsageError(f"{flag} {name}: {module} is not installed "
                         f"(pip install 'diffmem[{module}]')")
