"""Warm worker processes: the one pool of ``check``, ``calibrate`` and ``fixtures``.

Every backend call runs in a worker process, ``--jobs 1`` included, so that whatever a
kernel does there -- a segfault, ``abort()``, ``sys.exit``, ``os._exit``, a hang that
holds the GIL -- ends that worker only.  The parent reads the worker's exit status
(``Died``: "killed by SIGSEGV", "exited with status 3", or the call that ran past the
timeout) and hands the rest of the work to a fresh worker.

Workers are spawned (JAX and torch must not be forked) and kept warm: importing JAX and
torch and compiling costs seconds per process on a small machine, so a worker runs task
after task and only a dead one is replaced.

A task is a generator function: each value it yields comes back as a ``Part`` as soon
as it exists, so work a worker finished before it died is kept.  A task marks the calls
that may hang with ``busy(label)``; the parent ends a worker that stays busy past the
timeout.

Ctrl-C: workers start with SIGINT ignored (the terminal sends it to the whole process
group), so only the parent acts on it; it kills the workers at once (they hold nothing
worth saving: files are written by the parent, results are already sent) and the caller
keeps what was done (``diffmem.interrupts``: SIGTERM likewise, a second one at once).
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Callable, Hashable


@dataclass(frozen=True)
class Part:
    """One value a task yielded."""
    key: Hashable
    value: Any


@dataclass(frozen=True)
class Done:
    """The task ran to its end."""
    key: Hashable


@dataclass(frozen=True)
class Raised:
    """The task raised (the worker lives on): the exception, described."""
    key: Hashable
    error: str


@dataclass(frozen=True)
class Died:
    """The worker running the task died (``exitcode``) or was ended because its call
    ``label`` ran past the timeout (``timed_out``, seconds); the task's remaining values
    never came."""
    key: Hashable
    exitcode: int | None = None
    timed_out: float | None = None
    label: str | None = None

    @property
    def reason(self) -> str:
        if self.timed_out is not None:
            return (f"the call did not return within {self.timed_out:g} s; its worker "
                    f"process was ended")
        return f"the worker process {exit_reason(self.exitcode)}"


# ---------------------------------------------------------------- worker side

_CONNECTION = None   # in a worker: its end of the pipe to the parent


def in_worker() -> bool:
    return _CONNECTION is not None


def busy(label: str):
    """In a task: the call that follows may hang or crash; the parent times it from now
    until the task's next value or ``busy`` (a no-op outside a worker)."""
    if _CONNECTION is not None:
        _CONNECTION.send(("busy", label))


def _describe(exc) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _worker_main(connection, device, index, preload=None):
    global _CONNECTION
    # SIGINT arrived blocked (see _Worker) and stays ignored: the parent decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    from .devices import apply_worker_environment
    apply_worker_environment(device, index)
    if preload is not None:   # while the parent still prepares: imports, nothing that can fail
        with contextlib.suppress(Exception):
            preload[0](*preload[1])
    _CONNECTION = connection
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):   # the parent is gone
            return
        if message is None:
            return
        key, fn, args = message
        try:
            for value in fn(*args):
                connection.send(("part", key, value))
            connection.send(("done", key, None))
        except Exception as exc:
            connection.send(("raised", key, _describe(exc)))


# ---------------------------------------------------------------- parent side

def exit_reason(exitcode) -> str:
    """'killed by SIGSEGV' or 'exited with status 3' for a process's exit code."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


class _Worker:
    def __init__(self, context, device, index, preload=None):
        parent_end, child_end = context.Pipe()
        self.connection = parent_end
        self.process = context.Process(target=_worker_main,
                                       args=(child_end, device, index, preload),
                                       daemon=True, name=f"diffmem-worker-{index}")
        # The child inherits the signal mask across exec: blocked, a Ctrl-C that comes
        # while it starts is never delivered there (it unblocks after ignoring SIGINT).
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        child_end.close()
        self.key = None           # the task it runs, or None when idle
        self.label = None         # what it is busy with (a timed call), or None
        self.since = 0.0

    def kill(self):
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.connection.close()


class Pool:
    """``jobs`` warm worker processes on ``device``; ``timeout`` seconds (None: none)
    for a call a task marked with ``busy``.

    ``submit`` queues a task; ``events()`` runs the queue and yields ``Part``, ``Done``,
    ``Raised`` and ``Died`` as they come (tasks may be submitted while it runs).  Use as
    a context manager: leaving it ends the workers, at once when leaving on an
    exception (Ctrl-C).

    ``preload``: ``(fn, args)`` every worker calls once when it starts (its exceptions
    ignored), e.g. importing the backends' modules; with ``start()`` that happens while
    the parent is still reading fixtures and drawing cases, instead of before the first
    task."""

    def __init__(self, jobs: int, device: str = "cpu", timeout: float | None = None,
                 preload=None):
        self.jobs = max(1, int(jobs))
        self.device = device
        self.timeout = timeout or None
        self.preload = preload
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._queue = collections.deque()
        self._started = 0

    def start(self, count=None):
        """Spawn ``count`` (default ``jobs``) workers now rather than at the first task."""
        while len(self._workers) < min(self.jobs, count or self.jobs):
            self._spawn()
        return self

    def _spawn(self):
        w = _Worker(self._context, self.device, self._started, self.preload)
        self._started += 1
        self._workers.append(w)
        return w

    def submit(self, key: Hashable, make: Callable):
        """Queue a task: ``make()``, called when a worker is free, returns ``(fn, args)``
        (``fn`` a generator function a worker can import) or None to drop the task."""
        self._queue.append((key, make))

    def _idle_worker(self):
        for w in list(self._workers):
            if w.key is None and not w.process.is_alive():   # ended while idle
                self._remove(w)
        for w in self._workers:
            if w.key is None:
                return w
        if len(self._workers) < self.jobs:
            return self._spawn()
        return None

    def _dispatch(self):
        while self._queue:
            w = self._idle_worker()
            if w is None:
                return
            key, make = self._queue.popleft()
            task = make()
            if task is None:
                continue
            w.key, w.label = key, None
            try:
                w.connection.send((key, *task))
            except (OSError, ValueError):   # died while idle: replace, try again
                w.key = None
                self._queue.appendleft((key, lambda task=task: task))
                self._remove(w)

    def _remove(self, w):
        w.kill()
        self._workers.remove(w)

    def _read(self, w):
        """Events from one worker's pipe (all that is there)."""
        out = []
        while w.connection.poll():
            try:
                kind, *rest = w.connection.recv()
            except (EOFError, OSError):
                break
            if kind == "busy":
                w.label, w.since = rest[0], time.monotonic()
            elif kind == "part":
                w.label = None
                out.append(Part(rest[0], rest[1]))
            else:
                w.key = w.label = None
                out.append(Done(rest[0]) if kind == "done" else Raised(rest[0], rest[1]))
        return out

    def events(self):
        while True:
            self._dispatch()
            running = [w for w in self._workers if w.key is not None]
            if not running:
                return
            deadline = min((w.since + self.timeout for w in running
                            if self.timeout and w.label is not None), default=None)
            wait_for = 1.0 if deadline is None else \
                max(0.0, min(1.0, deadline - time.monotonic()))
            wait([x for w in running for x in (w.connection, w.process.sentinel)], wait_for)
            for w in running:
                yield from self._read(w)
                if w.key is None:
                    continue
                if not w.process.is_alive():
                    w.process.join()
                    yield from self._read(w)   # what it sent before it died
                    if w.key is not None:
                        key, label, w.key = w.key, w.label, None
                        code = w.process.exitcode
                        self._remove(w)
                        yield Died(key, exitcode=code, label=label)
                    else:
                        self._remove(w)
                elif (self.timeout and w.label is not None
                      and time.monotonic() - w.since > self.timeout):
                    key, label = w.key, w.label
                    self._remove(w)
                    yield Died(key, timed_out=self.timeout, label=label)

    def close(self):
        """End the workers at once: they hold nothing (results are sent, files are the
        parent's), and a worker's own exit (tearing down torch and JAX) costs the
        caller half a second."""
        self.kill()

    def kill(self):
        """End every worker now (an interrupt)."""
        for w in self._workers:
            if w.process.is_alive():
                w.process.kill()
        for w in self._workers:
            w.kill()
        self._workers.clear()

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
        else:
            self.kill()
        return False
