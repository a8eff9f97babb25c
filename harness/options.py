"""Command-line values shared by ``check``, ``calibrate`` and ``fixtures``: parsed here
into typed values (a tuple of dtypes, of family names, a ``Tolerance``, a worker count),
each mistake a ``UsageError`` that names its flag."""

from __future__ import annotations

import argparse

from diffmem.usage import UsageError


def add_tolerance_options(parser):
    group = parser.add_argument_group(
        "tolerance (docs/harness.md, 'Tolerance'); default: the calibrated bounds")
    group.add_argument("--k", type=float, default=None, metavar="K",
                       help="low precisions: multiple of the reference's own error in that "
                            "precision allowed")
    group.add_argument("--rtol", type=float, default=None, metavar="R",
                       help="relative floor (x the tensor's max |value|), every dtype checked")
    group.add_argument("--atol", type=float, default=None, metavar="A",
                       help="absolute floor, every dtype checked")
    group.add_argument("--tolerance", action="append", default=[], metavar="PATTERN=RTOL",
                       help="fixed relative bound for matching tensors, e.g. 'grads/*=1e-4' "
                            "or 'trace/read.weight=1e-5' (repeatable)")


def tolerance_from_args(args):
    from .tolerance import make_tolerance
    return make_tolerance(args.k, args.rtol, args.atol, args.tolerance)


def parse_dtypes(values) -> tuple:
    """``--dtype`` values (repeatable, each one name or a comma-separated list; 'both' =
    float32 and float64) -> tuple in the order given, without repeats."""
    from diffmem.backends.protocol import PRECISIONS
    out = []
    for value in [values] if isinstance(values, str) else (values or ["both"]):
        for name in (n.strip() for n in str(value).split(",")):
            for d in ("float32", "float64") if name == "both" else (name,):
                if d not in PRECISIONS:
                    raise ValueError(f"--dtype: expected one of {', '.join(PRECISIONS)} or "
                                     f"'both', got {d!r}")
                if d not in out:
                    out.append(d)
    return tuple(out)


def parse_families(values) -> tuple:
    """``--family`` values (repeatable, comma-separated) -> family names, in registry
    order; None: every registered family."""
    from diffmem.models import families
    known = list(families())
    if not values:
        return tuple(known)
    asked = {n.strip() for v in values for n in str(v).split(",") if n.strip()}
    unknown = sorted(asked - set(known))
    if unknown or not asked:
        raise ValueError(f"--family: expected some of {', '.join(known)}, got "
                         f"{', '.join(unknown) or repr(values)}")
    return tuple(n for n in known if n in asked)


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def check_backend_specs(specs):
    """Every ``--backend`` value names a backend (a registered name, or an import path
    whose module imports and has the factory): else a UsageError."""
    from diffmem.backends.protocol import check_backend_spec
    for spec in specs:
        try:
            check_backend_spec(spec)
        except ValueError as exc:
            raise UsageError(f"--backend: {exc}") from None


def device_arg(text):
    """argparse type: 'cpu', 'cuda' or 'cuda:N'."""
    from diffmem.backends.driver import DEVICES_HELP, parse_device
    try:
        parse_device(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {DEVICES_HELP}, got {text!r}") from None
    return text
