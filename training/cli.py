"""Sub-commands (being written)."""


def add_commands(subparsers):
    pass
