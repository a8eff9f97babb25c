"""The held-out cases the parent draws while the workers run (harness/prepare.py), and a
pool whose workers start before the first task (harness/pool.py's ``preload``)."""

import numpy as np

from diffmem.harness import baselines
from diffmem.harness.check import heldout_refs
from diffmem.harness.heldout import make_case
from diffmem.harness.pool import Part, Pool
from diffmem.harness.prepare import Preparer


def _leaves(tree):
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from ((f"{k}/{p}", v) for p, v in _leaves(tree[k]))
    elif tree is not None:
        yield "", np.asarray(tree)


def test_a_prepared_case_is_the_drawn_case_and_is_not_run_again(monkeypatch):
    (ref,), _ = heldout_refs(seed=5, count=1, chosen=("stack",))
    preparer = Preparer([[ref]], ("float32",), ("float64", "float32")).start()
    preparer._thread.join()
    taken = preparer.take(ref)
    assert taken.prepared is not None and taken.prepared.seconds > 0
    drawn = make_case(ref.heldout, ("float32",))

    def no_run(*args, **kwargs):
        raise AssertionError("the reference ran again in the worker")
    monkeypatch.setattr(baselines, "reference_run", no_run)
    case = taken.load(("float32",))
    for dtype in ("float64", "float32"):
        got, want = dict(_leaves(case.expected[dtype])), dict(_leaves(drawn.expected[dtype]))
        assert got.keys() == want.keys()
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    np.testing.assert_array_equal(case.inputs, drawn.inputs)
    assert case.name == drawn.name


def test_a_prepared_fixture_is_the_loaded_fixture():
    from diffmem.harness.check import fixture_refs
    from diffmem.harness.fixture_io import case_path, load_case
    refs, _, _ = fixture_refs(None, "stack-ff-bce-init")
    preparer = Preparer([refs], ("float32",), ("float64",)).start()
    preparer._thread.join()
    case, loaded = preparer.take(refs[0]).load(()), load_case(case_path(refs[0].name))
    assert case.path == loaded.path and case.config == loaded.config
    for dtype in loaded.expected:
        got, want = dict(_leaves(case.expected[dtype])), dict(_leaves(loaded.expected[dtype]))
        assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in want)


def test_a_case_a_worker_reaches_first_is_left_to_it_and_skipped_here():
    refs, _ = heldout_refs(seed=5, count=2, chosen=("stack",))
    preparer = Preparer([refs], ("float32",), ("float32",))   # not started: nothing drawn
    assert preparer.take(refs[1]) is refs[1]                # the worker draws it itself
    preparer.start()
    preparer._thread.join()
    assert refs[1].name not in preparer._done                # ... and the thread skipped it
    assert preparer.take(refs[0]).prepared is not None


WORKER_HELPERS = """
import os

def set_marker(value):
    os.environ["DIFFMEM_TEST_PRELOAD"] = value

def failing_preload():
    raise RuntimeError("a preload that fails is ignored")

def read_marker():
    yield os.environ.get("DIFFMEM_TEST_PRELOAD")
"""


def test_a_worker_runs_its_preload_before_its_first_task(tmp_path, monkeypatch):
    (tmp_path / "preload_helpers.py").write_text(WORKER_HELPERS)
    monkeypatch.syspath_prepend(str(tmp_path))   # spawned workers import it from there
    import preload_helpers as h
    with Pool(1, preload=(h.set_marker, ("made",))).start() as pool:
        pool.submit("k", lambda: (h.read_marker, ()))
        parts = [e.value for e in pool.events() if isinstance(e, Part)]
    assert parts == ["made"]
    with Pool(1, preload=(h.failing_preload, ())) as pool:
        pool.submit("k", lambda: (h.read_marker, ()))
        parts = [e.value for e in pool.events() if isinstance(e, Part)]
    assert parts == [None]
