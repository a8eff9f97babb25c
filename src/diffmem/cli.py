"""The ``diffmem`` command line.  Each package adds its own sub-commands."""

import argparse
import importlib
import os
import sys

from diffmem import __version__
from diffmem.usage import UsageError

# Modules with ``add_commands(subparsers)``; each sub-command sets ``func(args) -> int``.
COMMAND_MODULES = (
    "diffmem.harness.cli",        # check, fixtures, calibrate
    "diffmem.harness.doctor",     # doctor
    "diffmem.harness.gradcheck_commands",      # gradcheck
    "diffmem.training.cli",       # train, test, pretrained
)

# 128 + SIGPIPE: what a shell reports for a writer whose reader went away.
EXIT_BROKEN_PIPE = 141


def family_names():
    from diffmem.models import families
    return list(families())


def version_line():
    from diffmem.models import families
    specs = ", ".join(f.spec_version for f in families().values())
    return f"diffmem {__version__} (specs {specs}, Python {sys.version.split()[0]})"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line naming the command and the flag (exit 2),
    not a usage block; sub-command parsers are of this class too."""

    def error(self, message):
        raise UsageError(message, self.prog)


def build_parser():
    parser = OneLineParser(
        prog="diffmem",
        description=f"Check differentiable-memory kernels against the frozen references "
                    f"of every model family ({', '.join(family_names())}); train and test "
                    f"the models on their papers' tasks.  `diffmem COMMAND --help` "
                    f"describes each command.")
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(sub)
    return parser


def command_name(args):
    """'diffmem fixtures list', 'diffmem train', ...: the prefix of a one-line error."""
    words = ["diffmem", args.command]
    for attr in ("fixtures_command", "pretrained_command", "report_command"):
        if getattr(args, attr, None):
            words.append(getattr(args, attr))
    return " ".join(words)


def _silence_stdout():
    # The reader (e.g. `| head`) is gone: point stdout at /dev/null so that the
    # interpreter's final flush does not raise a second BrokenPipeError.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def check_environment():
    """The environment variables diffmem reads itself, refused before a command starts
    (a worker would otherwise fail each run with the same error)."""
    from diffmem.backends.driver import jax_xla_setting
    try:
        jax_xla_setting()
    except ValueError as exc:
        raise UsageError(str(exc), "diffmem") from None


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = None
    try:
        args = build_parser().parse_args(argv)
        check_environment()
        args.argv = argv   # the exact command line, recorded by `diffmem train` in model files
        return int(args.func(args) or 0)
    except UsageError as exc:
        prog = exc.args[1] if len(exc.args) > 1 else command_name(args)
        print(f"{prog}: {exc.args[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
