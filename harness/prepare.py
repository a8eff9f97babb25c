"""A check's cases made ready by the parent while the workers run the backends.

Before a backend can be compared with a case, the case must be loaded (a fixture: read,
hash-checked, validated) or drawn (a held-out case: the reference's float64 and float32
runs on it), and on a chaotic case the noise runs of ``noise.py`` made: seconds per
held-out case, more than the backend's own call for most kernels.  Done in a worker,
that time adds to the check's wall clock; done here, in the parent, which otherwise only
waits for its workers, it runs beside the backend (on the core ``--jobs 1`` leaves free).

A thread makes the cases ready in the order the check runs them (``schedule.groups``:
fixtures first, held-out cases last).  A worker that reaches a case gets it ready-made
(``CaseRef.prepared``, plain arrays, so it crosses the process boundary as data); if the
thread is making that very case the worker waits for it, and if the thread has not
reached it yet the worker loads or draws it itself, as it would without this module, and
the thread skips it.  A case that fails here is left to the worker, whose error row says
why.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from .noise import float32_spread, perturbed_float64


@dataclasses.dataclass(frozen=True)
class PreparedCase:
    """A loaded or drawn case, its reference runs and noise runs, as plain data."""
    name: str
    path: object
    config: object
    meta: dict
    params: dict
    inputs: object
    targets: object
    mask: object
    expected: dict    # dtype (and noise.KEY, noise.KEY32) -> the run, as in Case.expected
    drawn: bool       # a held-out draw (its other dtypes' runs are made on first use)
    seconds: float    # loading or drawing it and the runs, in the parent

    @classmethod
    def of(cls, case, drawn, seconds):
        return cls(case.name, case.path, case.config, dict(case.meta), dict(case.params),
                   case.inputs, case.targets, case.mask, dict(case.expected), drawn, seconds)

    def case(self):
        if self.drawn:
            from .testing import reference_case
            return reference_case(self.name, self.config, self.params, self.inputs,
                                  self.targets, self.mask, self.meta, precisions=(),
                                  ready=self.expected)
        from diffmem.models import bind

        from .fixture_io import Case
        return Case(self.name, self.path, bind(self.config), dict(self.meta), self.params,
                    self.inputs, self.targets, self.mask, dict(self.expected))


class Preparer:
    """Makes the cases of ``order`` (the check's tasks: lists of refs, in the order
    they run) ready in a daemon thread (``start``); ``take(ref)`` is the ref to send to
    a worker: with the case ready-made, or as it was."""

    def __init__(self, order, precisions, dtypes):
        self._todo = [r for group in order for r in group]
        self._precisions = tuple(precisions)
        self._float32 = "float32" in dtypes
        self._lock = threading.Lock()
        self._done = {}          # name -> PreparedCase, or None when it failed here
        self._events = {}        # name -> Event set when the thread is done with it
        self._skip = set()       # names a worker makes itself
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="diffmem-prepare",
                                        daemon=True)

    def start(self):
        if self._todo:
            self._thread.start()
        return self

    def stop(self):
        with self._lock:
            self._stopped = True

    def _run(self):
        for ref in self._todo:
            with self._lock:
                if self._stopped:
                    return
                if ref.name in self._skip:
                    continue
                event = self._events[ref.name] = threading.Event()
            prepared, started = None, time.perf_counter()
            try:
                case = ref.load(self._precisions)
                perturbed_float64(case)          # cached in case.expected (None: not chaotic)
                if self._float32:
                    float32_spread(case)
                prepared = PreparedCase.of(case, ref.heldout is not None,
                                           time.perf_counter() - started)
            except Exception:   # noqa: BLE001 -- the worker makes it again and says why
                prepared = None
            with self._lock:
                self._done[ref.name] = prepared
            event.set()

    def take(self, ref):
        """``ref`` with its case ready-made when this thread made it (waiting if it is
        making it now); otherwise ``ref`` unchanged, and the thread will not make it."""
        with self._lock:
            event = self._events.get(ref.name)
            if event is None:
                self._skip.add(ref.name)
                return ref
        event.wait()
        with self._lock:
            prepared = self._done.get(ref.name)
        return ref if prepared is None else dataclasses.replace(ref, prepared=prepared)
