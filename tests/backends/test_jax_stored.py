"""The bundled JAX backend's traced programs kept on disk (backends/jax/stored.py): a later
process loads the program instead of tracing it, runs exactly what a plain ``jit`` runs,
and never runs a program traced from other code or for other arguments."""

import jax
import numpy as np
import pytest

from diffmem.backends.jax import driver, stored
from diffmem.backends.jax.driver import JaxBackend
from diffmem.backends.jax.ops import xp
from diffmem.models.ntm.batched import BatchedNTM
from diffmem.models.ntm.reference import NTMConfig, init_params

CFG = NTMConfig(input_size=3, output_size=2, controller_size=4, memory_rows=3, memory_width=2)


def data(batch=2, steps=3):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, steps, CFG.X)),
            (rng.random((batch, steps, CFG.Y)) > 0.5).astype(float), np.ones((batch, steps)))


def run(dtype="float32", steps=3):
    """One traced run in a fresh process's state (nothing compiled in memory)."""
    driver._COMPILED.clear()
    return JaxBackend("cpu", dtype).run(CFG, init_params(CFG, seed=3), *data(steps=steps),
                                        want_trace=True, want_grads=True)


def leaves(result):
    return jax.tree_util.tree_leaves((result.logits, result.loss, result.grads,
                                      result.grad_inputs, result.trace))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(stored.VARIABLE, str(tmp_path))
    return tmp_path


@pytest.fixture
def spy(monkeypatch):
    """Counts the traces: every export is one."""
    calls = []
    real = stored.export.export

    def counting(*a, **k):
        calls.append(1)
        return real(*a, **k)
    monkeypatch.setattr(stored.export, "export", counting)
    return calls


def test_a_second_process_loads_the_program_and_gets_the_same_bits(folder, spy, monkeypatch):
    first = run()
    assert len(spy) == 1 and len(list(folder.glob("*" + stored.SUFFIX))) == 1
    again = run()
    assert len(spy) == 1                        # loaded, not traced again
    monkeypatch.delenv(stored.VARIABLE)
    plain = run()                               # a plain jit of the same program
    for a, b, c in zip(leaves(first), leaves(again), leaves(plain)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_other_arguments_dtype_or_source_get_their_own_program(folder, spy, monkeypatch):
    run()
    run(steps=4)                                # other shapes
    run(dtype="float64")                        # other dtype
    assert len(spy) == 3 and len(list(folder.glob("*" + stored.SUFFIX))) == 3
    # A changed source file anywhere in the traced packages misses every stored program.
    monkeypatch.setattr(stored, "_source_digest", lambda folders: "edited")
    run()
    assert len(spy) == 4


def test_the_key_covers_the_packages_the_trace_reads():
    import pathlib

    import diffmem.backends
    import diffmem.models
    import diffmem.reference
    wanted = {pathlib.Path(p).resolve() for pkg in (diffmem.models, diffmem.backends,
                                                    diffmem.reference) for p in pkg.__path__}
    assert set(stored._source_folders()) == wanted


class OutsideVariant(BatchedNTM):
    """A variant defined outside diffmem: it could import code the key does not hash."""


def test_a_form_from_outside_diffmem_is_traced_every_time(folder, spy):
    from diffmem.models.ntm import FAMILY
    from diffmem.models.ntm.bugs import LstmGateOrder
    assert stored.keeps(BatchedNTM(xp, CFG), FAMILY)
    assert stored.keeps(LstmGateOrder(xp, CFG), FAMILY)
    assert not stored.keeps(OutsideVariant(xp, CFG), FAMILY)
    import abc

    class WithAnAbstractBase(LstmGateOrder, abc.ABC):   # Python's own bases do not count
        __module__ = "diffmem.models.ntm.bugs"
    assert stored.keeps(WithAnAbstractBase(xp, CFG), FAMILY)
    driver._COMPILED.clear()
    JaxBackend("cpu", "float32", OutsideVariant).run(
        CFG, init_params(CFG, seed=3), *data(), want_trace=True, want_grads=True)
    assert spy == [] and list(folder.iterdir()) == []


def test_a_damaged_file_is_traced_again_and_replaced(folder, spy):
    first = run()
    (path,) = folder.glob("*" + stored.SUFFIX)
    path.write_bytes(b"not an export")
    again = run()
    assert len(spy) == 2 and path.read_bytes() != b"not an export"
    for a, b in zip(leaves(first), leaves(again)):
        np.testing.assert_array_equal(a, b)


def test_nothing_is_kept_without_the_folder(tmp_path, spy, monkeypatch):
    monkeypatch.delenv(stored.VARIABLE, raising=False)
    run()
    assert spy == [] and stored.directory() is None


def test_a_program_that_does_not_export_is_lowered_as_before(folder, monkeypatch):
    def refuse(*a, **k):
        raise ValueError("not exportable")
    monkeypatch.setattr(stored.export, "export", refuse)
    result = run()
    assert np.isfinite(result.loss).all() and list(folder.iterdir()) == []


def test_the_folder_keeps_the_recently_used_programs_within_its_bound(tmp_path):
    import os
    for i in range(10):
        path = tmp_path / f"p{i}{stored.SUFFIX}"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 + i, 1000 + i))        # p0 the least recently used
    os.utime(tmp_path / f"p0{stored.SUFFIX}")       # ... until it is used again now
    (tmp_path / "old.tmp").write_bytes(b"half")
    os.utime(tmp_path / "old.tmp", (1000, 1000))
    stored.trim(tmp_path, max_bytes=1000)           # 1,000 bytes held: nothing goes
    assert len(list(tmp_path.glob("*" + stored.SUFFIX))) == 10
    assert not (tmp_path / "old.tmp").exists()
    stored.trim(tmp_path, max_bytes=500)            # down to 450 bytes: the oldest go
    left = sorted(p.name for p in tmp_path.glob("*" + stored.SUFFIX))
    assert left == sorted(f"p{i}{stored.SUFFIX}" for i in (0, 7, 8, 9))


def test_without_flatbuffers_programs_are_traced_as_before(folder, spy, monkeypatch):
    monkeypatch.setattr(stored, "serialisable", lambda: False)
    result = run()
    assert spy == [] and list(folder.iterdir()) == [] and np.isfinite(result.loss).all()
