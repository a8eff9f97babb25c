"""The one exception a command raises for a user's mistake.

``diffmem`` prints its message as one line, ``diffmem COMMAND: MESSAGE``, and exits
with status 2; any other exception is a bug and keeps its traceback.  The message names
the flag the user typed and what was expected (never an internal field name).
"""


class UsageError(Exception):
    """A user's mistake on the command line: one line, exit status 2."""


def check_output_path(path, flag, *, overwrite=True, folder=False):
    """Before any work: ``path`` can be written as ``flag``'s output.  Its folder must
    exist (nothing is created silently); an existing ``path`` must be a regular file
    (a folder with ``folder=True``) -- a device node, a socket or a folder is never
    replaced; with ``overwrite=False`` an existing file is refused too."""
    import os
    import stat
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if folder:
        if os.path.exists(path) and not os.path.isdir(path):
            raise UsageError(f"{flag} {path}: is a file; expected a folder")
        target = path if os.path.isdir(path) else parent
    else:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise UsageError(f"{flag} {path}: {exc.strerror}") from None
        if mode is not None and stat.S_ISDIR(mode):
            raise UsageError(f"{flag} {path}: is a folder; expected a file name")
        if mode is not None and not stat.S_ISREG(mode):
            raise UsageError(f"{flag} {path}: is not a regular file (a device, pipe or "
                             f"socket); expected a file name")
        if mode is not None and not overwrite:
            raise UsageError(f"{flag} {path}: exists; give --overwrite to replace it")
        target = parent
    if not os.path.isdir(target):
        raise UsageError(f"{flag} {path}: folder {target} does not exist; create it first")
    if not os.access(target, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: folder {target} is not writable")


def write_file_atomically(path, write, flag):
    """``write(tmp_path)`` then rename over ``path``: ``path`` is either the old file or
    the whole new one.  A failure (a full disk) removes the temporary file and is one
    UsageError line naming ``flag``; nothing saved before is lost."""
    import os
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)),
                       f".{os.path.basename(path)}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: could not write it ({exc.strerror or exc}); "
                         f"anything written before is kept") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
