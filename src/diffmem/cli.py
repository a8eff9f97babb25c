"""The ``diffmem`` command line.  Each package adds its own sub-commands."""

import argparse
import importlib
import sys

# Modules with ``add_commands(subparsers)``; each sub-command sets ``func(args) -> int``.
COMMAND_MODULES = (
    "diffmem.harness.cli",        # check, fixtures, calibrate
    "diffmem.harness.doctor",     # doctor
    "diffmem.reference.gradcheck",  # gradcheck
    "diffmem.training.cli",       # train, test
)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="diffmem",
        description="Check differentiable-memory kernels against the frozen NTM reference.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv   # the exact command line, recorded by `diffmem train` in model files
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
