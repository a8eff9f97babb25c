"""The harness's sub-commands: ``check``, ``calibrate`` and ``fixtures generate|verify|list``."""

from .calibrate import add_calibrate_command
from .check_commands import add_check_commands, add_tolerance_options
from .fixture_commands import add_fixture_commands


def add_commands(subparsers):
    add_check_commands(subparsers)
    add_calibrate_command(subparsers, add_tolerance_options)
    add_fixture_commands(subparsers)
