"""Sub-commands (being written)."""


def add_fixture_commands(subparsers):
    pass
