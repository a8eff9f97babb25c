"""Sub-commands (being written)."""


def add_check_commands(subparsers):
    pass
