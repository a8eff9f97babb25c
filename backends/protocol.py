"""The backend protocol of HARNESS.md section 1, and the one loader for backends.

A backend is any object with ``name`` and ``run(config, params, inputs, targets, mask,
*, want_trace, want_grads) -> Result``, made by a factory ``make_backend(device, dtype)``.
Backends are found by a short name registered under the entry-point group
``diffmem.backends`` or by an import path ``package.module:make_backend``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Optional

from diffmem.reference.precision import LOW_PRECISION, PRECISIONS  # noqa: F401 (re-exported)

ENTRY_POINT_GROUP = "diffmem.backends"
DEVICES_HELP = "'cpu', 'cuda' or 'cuda:N'"
# What a backend computes in (``diffmem.reference.precision.PRECISIONS``).  A backend
# in a low-precision mode returns its results as float32 (or float64) numpy arrays,
# numpy having no bfloat16: the values are what the kernel computed, widened.  The
# harness bounds a mode by the reference run with that precision emulated, see
# docs/precision.md.
DTYPES = PRECISIONS   # the older name; every dtype a backend factory may be asked for


class Unsupported(Exception):
    """Raised by a backend's ``run`` (or returned as a reason by its optional
    ``supports(config)``) for a configuration it cannot express: a kernel written for
    LSTM controllers only, one read head, three shifts...  The harness reports such a
    case as "unsupported": counted apart, never passed and never an error (``--strict``
    makes it fail)."""


@dataclass
class Result:
    """What a backend returns; every field a numpy array (or dict of them).

    ``grads``, ``grad_inputs`` and ``trace`` are None when not asked for or not
    supported; the harness reports those as "not checked", never as passed.
    """
    logits: object                      # [B, T, Y]
    loss: object                        # [B], per-sequence loss
    grads: Optional[dict] = None        # name -> param shape, summed over the batch
    grad_inputs: Optional[object] = None  # [B, T, X]
    trace: Optional[dict] = None        # the family's trace name -> [B, T, ...]
    extras: dict = field(default_factory=dict)


def registered_backends() -> dict:
    """Short name -> entry point, for every installed backend."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _one_line(exc) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def resolve_factory(name_or_path: str):
    """A short registered name or ``package.module:factory`` -> the factory callable."""
    if not isinstance(name_or_path, str) or not name_or_path:
        raise ValueError(f"backend: expected a registered name or 'package.module:make_backend', "
                         f"got {name_or_path!r}")
    if ":" in name_or_path and name_or_path.partition(":")[0] in registered_backends():
        # A registered adapter with its argument, e.g. 'fla-kernel:pkg.mod:fn': the entry
        # point is a function of the argument that returns the factory.
        name, _, argument = name_or_path.partition(":")
        try:
            factory = registered_backends()[name].load()(argument)
        except ImportError as exc:
            raise ValueError(f"backend {name_or_path!r}: its package is not importable "
                             f"({exc})") from exc
    elif ":" in name_or_path:
        module_name, _, attr = name_or_path.partition(":")
        if not module_name or not attr:
            raise ValueError(f"backend {name_or_path!r}: expected 'package.module:factory' "
                             f"(both parts named), e.g. 'my_kernel:make_backend'")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"backend {name_or_path!r}: cannot import module {module_name!r}: "
                             f"{exc}") from exc
        except Exception as exc:   # the module itself raised (SyntaxError included)
            raise ValueError(f"backend {name_or_path!r}: importing module {module_name!r} "
                             f"raised {_one_line(exc)}") from exc
        factory = getattr(module, attr, None) or _catalogued_form(module, attr)
        if factory is None:
            raise ValueError(f"backend {name_or_path!r}: module {module_name!r} has no "
                             f"attribute {attr!r}")
    else:
        known = registered_backends()
        if name_or_path not in known:
            raise ValueError(f"backend {name_or_path!r}: not a registered backend "
                             f"(registered: {sorted(known)}); give a registered name or an "
                             f"import path 'package.module:make_backend'")
        try:
            factory = known[name_or_path].load()
        except ImportError as exc:
            raise ValueError(f"backend {name_or_path!r}: its package is not importable ({exc}); "
                             f"install it, e.g. pip install 'diffmem[{name_or_path}]'") from exc
    if not callable(factory) or inspect.isclass(factory) and not hasattr(factory, "run"):
        raise ValueError(f"backend {name_or_path!r}: {factory!r} is not a backend factory "
                         f"(expected a function make_backend(device, dtype))")
    try:
        inspect.signature(factory).bind("cpu", "float32")
    except TypeError:
        raise ValueError(f"backend {name_or_path!r}: {factory!r} is not a backend factory: it "
                         f"cannot be called as make_backend(device, dtype)") from None
    except ValueError:   # builtins without a signature: nothing to check before the call
        pass
    return factory


def snake_case(name: str) -> str:
    """'ShiftWrongSign' -> 'shift_wrong_sign'."""
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _catalogued_form(module, attr):
    """A bug or variant in a family's catalogue (a plain subclass of its batched form),
    named in snake case (``diffmem.models.ntm.bugs:shift_wrong_sign`` is the class
    ``ShiftWrongSign``): a factory of the registered ``torch`` backend running it, or
    None."""
    from diffmem.models import families
    forms = tuple(fam.batched for fam in families().values())
    found = [v for v in vars(module).values() if isinstance(v, type) and
             issubclass(v, forms) and snake_case(v.__name__) == attr]
    if not found:
        return None
    model_cls, torch = found[0], resolve_factory("torch")

    def factory(device="cpu", dtype="float64"):
        return torch(device, dtype, model_cls=model_cls)
    factory.__name__ = factory.__qualname__ = attr
    factory.__doc__ = model_cls.__doc__
    return factory


def check_backend_spec(name_or_path: str) -> None:
    """Cheap up-front check of a ``--backend`` value, without importing a registered
    backend's framework: a registered name must exist; an import path is resolved."""
    if isinstance(name_or_path, str) and ":" not in name_or_path \
            and name_or_path in registered_backends():
        return
    resolve_factory(name_or_path)


def check_backend(backend, name_or_path: str = "backend"):
    """The object a factory made must have the protocol: ``name`` and ``run``."""
    missing = [a for a in ("name", "run") if not hasattr(backend, a)]
    if missing or not callable(getattr(backend, "run", None)):
        raise ValueError(f"backend {name_or_path!r}: its factory returned "
                         f"{type(backend).__module__}.{type(backend).__name__}, which lacks "
                         f"{' and '.join(missing) or 'a callable run'}; expected an object with "
                         f"name and run(config, params, inputs, targets, mask, *, want_trace, "
                         f"want_grads) (docs/harness.md, 'Backend protocol')")
    return backend


def load_backend(name_or_path: str, device: str = "cpu", dtype: str = "float32"):
    """Make a backend by name or import path, for a device and dtype (one of
    ``PRECISIONS``)."""
    if dtype not in PRECISIONS:
        raise ValueError(f"dtype: expected one of {PRECISIONS}, got {dtype!r}")
    return check_backend(resolve_factory(name_or_path)(device, dtype), name_or_path)
