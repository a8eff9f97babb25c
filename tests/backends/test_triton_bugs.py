"""Bugs injected into the Triton kernels (backends/triton/bugs.py) are each caught by
the harness and localised to the stage where they live, through the interpreter.

Each bug is tried on a few small fixture cases, float64 first, until one run fails and
names the bug's stage; the cases carrying the bug's tags come first.
"""

import os

import pytest

# Triton picks the interpreter when a kernel is decorated: set before the first import.
os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton", reason="triton is not installed (pip install 'diffmem[triton]')")
if os.environ["TRITON_INTERPRET"] != "1":
    pytest.skip("TRITON_INTERPRET is set but not to 1", allow_module_level=True)

from diffmem.backends.triton import make_backend  # noqa: E402
from diffmem.backends.triton.bugs import BUGS, FACTORIES, TritonBug  # noqa: E402
from diffmem.backends.triton.model import TritonNTM  # noqa: E402
from diffmem.harness.compare import PASS, run_case  # noqa: E402
from diffmem.harness.fixture_io import case_path, load_case  # noqa: E402
from diffmem.harness.tolerance import Tolerance  # noqa: E402

# Small cases (short T) that between them carry every tag the bugs need.
CANDIDATES = ("ntm-random-ff-n1-init", "ntm-random-ff-multihead-zero-keys",
              "ntm-random-lstm-n2-init", "ntm-copy-ff-multihead-sharp")


@pytest.fixture(scope="module")
def cases():
    return [load_case(case_path(name)) for name in CANDIDATES]


def hunt(cls, cases):
    """(case, dtype, divergence line, stage named) of the first run that catches cls
    at its own stage, or of the first catch elsewhere, or None."""
    def tagged(case):
        return bool(set(case.meta.get("tags", ())) & set(cls.NEEDS))
    order = sorted(((c, d) for d in ("float64", "float32") for c in cases),
                   key=lambda cd: (not tagged(cd[0]), cd[1] != "float64"))
    backends = {d: make_backend("cpu", d, model_cls=cls) for d in ("float64", "float32")}
    first = None
    for case, dtype in order:
        r = run_case(backends[dtype], case, dtype, Tolerance())
        if r.status == PASS:
            continue
        stage = r.divergence["stage"] if r.divergence else None
        found = (case.name, dtype, r.error or r.first_divergence, stage)
        if stage in cls.STAGES:
            return found
        first = first or found
    return first


@pytest.mark.parametrize("name", sorted(BUGS))
def test_triton_bug_is_caught_and_localised(name, cases):
    cls = BUGS[name]
    found = hunt(cls, cases)
    assert found is not None, f"{name} survived {CANDIDATES} in float64 and float32"
    case, dtype, line, stage = found
    assert stage in cls.STAGES, (f"{name} lives in {cls.STAGES} but the harness named "
                                 f"{stage!r} on {case} ({dtype}): {line}")


def test_catalogue_is_kernel_level_and_documented():
    assert len(BUGS) >= 8
    for name, cls in BUGS.items():
        assert cls.__doc__ and cls.STAGES, name
        # One swapped kernel stage per bug; the model's stage methods are untouched.
        swapped = [a for a in vars(cls) if a.endswith("_stage")]
        assert len(swapped) == 1, (name, swapped)
        assert not any(callable(vars(cls)[m]) and hasattr(TritonNTM, m)
                       and not m.endswith("_stage") for m in vars(cls)), name
        stage_cls = vars(cls)[swapped[0]]
        base = getattr(TritonNTM, swapped[0])
        assert issubclass(stage_cls, base) and (
            stage_cls.fwd_kernel is not base.fwd_kernel
            or stage_cls.bwd_kernel is not base.bwd_kernel), name
    assert issubclass(BUGS["WriteLostHead"], TritonBug)


def test_bug_is_a_backend_by_import_path():
    from diffmem.backends.protocol import load_backend
    backend = load_backend("diffmem.backends.triton.bugs:shift_wrap_off_by_one", "cpu",
                           "float64")
    assert backend.name == "triton-cpu-float64[ShiftWrapOffByOne]"
    assert set(FACTORIES) >= {"write_lost_head", "read_half_accumulation"}
