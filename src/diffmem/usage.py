"""The one exception a command raises for a user's mistake.

``diffmem`` prints its message as one line, ``diffmem COMMAND: MESSAGE``, and exits
with status 2; any other exception is a bug and keeps its traceback.  The message names
the flag the user typed and what was expected (never an internal field name).
"""


class UsageError(Exception):
    """A user's mistake on the command line: one line, exit status 2."""
