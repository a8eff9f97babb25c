"""The harness's sub-commands: ``check``, ``report merge``, ``fuzz``, ``calibrate`` and
``fixtures generate|verify|list``."""

from .calibrate_commands import add_calibrate_command
from .check_commands import add_check_commands
from .fixture_commands import add_fixture_commands
from .fuzz_commands import add_fuzz_command
from .report_commands import add_report_commands


def add_commands(subparsers):
    add_check_commands(subparsers)
    add_report_commands(subparsers)
    add_fuzz_command(subparsers)
    add_calibrate_command(subparsers)
    add_fixture_commands(subparsers)
