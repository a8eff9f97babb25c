"""Ctrl-C and SIGTERM: stop cleanly, keep what was done, and a second one stops at once.

Long commands (check, calibrate, fixtures generate, train) turn SIGTERM into the same
KeyboardInterrupt as Ctrl-C, so a job scheduler's stop keeps results too.  After the
first interrupt, ``stop_at_next_signal`` makes the next one end the process at once,
while the partial results are being written.
"""

import contextlib
import os
import signal

# Exit status after an interrupt: 128 + SIGINT, what a shell reports.
EXIT_INTERRUPTED = 130


def exit_now(signum=None, frame=None):
    """End the process now (a second interrupt): no cleanup, no traceback."""
    os.write(2, b"interrupted again: stopped at once\n")
    os._exit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def sigterm_interrupts():
    """Within: Ctrl-C and SIGTERM raise KeyboardInterrupt."""
    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt
    old = signal.signal(signal.SIGTERM, raise_interrupt)
    # Ctrl-C too, explicitly: a job started in the background by a non-interactive shell
    # inherits SIGINT as ignored, and its partial results would never be written.
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        signal.signal(signal.SIGINT, old_int)


def stop_at_next_signal():
    """After a first interrupt: a second Ctrl-C or SIGTERM ends the process at once."""
    signal.signal(signal.SIGINT, exit_now)
    signal.signal(signal.SIGTERM, exit_now)
