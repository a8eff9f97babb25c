"""Held-out cases drawn by the parent while the workers run the fixtures.

A held-out case costs the reference's runs (float64 and float32, and on a chaotic case
the noise runs of ``noise.py``) before any backend can be compared with it: seconds per
case, more than the backend's own call for most kernels.  Drawn in a worker, that time
adds to the check's wall clock; drawn here, in the parent, which otherwise only waits for
its workers, it runs beside the backend (on the core ``--jobs 1`` leaves free).

A thread draws the held-out cases in the order the check runs them (after the
fixtures, ``schedule.groups``).  A worker that reaches a held-out case gets it ready-made
(``CaseRef.prepared``, plain arrays, so it crosses the process boundary as data); if the
thread is drawing that very case the worker waits for it, and if the thread has not
reached it yet the worker draws it itself, as it would without this module, and the
thread skips it.  A draw that fails here is left to the worker, whose error row says why.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from .heldout import make_case
from .noise import float32_spread, perturbed_float64


@dataclasses.dataclass(frozen=True)
class PreparedCase:
    """A drawn case and the reference's runs on it, as plain data."""
    name: str
    config: object
    meta: dict
    params: dict
    inputs: object
    targets: object
    mask: object
    expected: dict    # dtype (and noise.KEY, noise.KEY32) -> the run, as in Case.expected
    seconds: float    # drawing it and the reference's runs, in the parent

    @classmethod
    def of(cls, case, seconds):
        return cls(case.name, case.config, dict(case.meta), dict(case.params), case.inputs,
                   case.targets, case.mask, dict(case.expected), seconds)

    def case(self):
        from .testing import reference_case
        return reference_case(self.name, self.config, self.params, self.inputs,
                              self.targets, self.mask, self.meta, precisions=(),
                              ready=self.expected)


class Preparer:
    """Draws ``refs``' held-out cases in a daemon thread (``start``); ``take(ref)`` is
    the ref to send to a worker: with the case ready-made, or as it was."""

    def __init__(self, refs, precisions, dtypes):
        self._todo = [r for r in refs if r.heldout is not None]
        self._precisions = tuple(precisions)
        self._float32 = "float32" in dtypes
        self._lock = threading.Lock()
        self._done = {}          # name -> PreparedCase, or None when the draw failed here
        self._events = {}        # name -> Event set when its draw ends
        self._skip = set()       # names a worker draws itself
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="diffmem-heldout",
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
                case = make_case(ref.heldout, self._precisions)
                perturbed_float64(case)          # cached in case.expected (None: not chaotic)
                if self._float32:
                    float32_spread(case)
                prepared = PreparedCase.of(case, time.perf_counter() - started)
            except Exception:   # noqa: BLE001 -- the worker draws it again and reports why
                prepared = None
            with self._lock:
                self._done[ref.name] = prepared
            event.set()

    def take(self, ref):
        """``ref`` with its case ready-made when this thread drew it (waiting if it is
        drawing it now); otherwise ``ref`` unchanged, and the thread will not draw it."""
        if ref.heldout is None:
            return ref
        with self._lock:
            event = self._events.get(ref.name)
            if event is None:
                self._skip.add(ref.name)
                return ref
        event.wait()
        with self._lock:
            prepared = self._done.get(ref.name)
        return ref if prepared is None else dataclasses.replace(ref, prepared=prepared)
