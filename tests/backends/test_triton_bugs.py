"""Bugs injected into the Triton kernels (backends/triton/bugs.py) are each caught by
the harness and localised to the stage where they live, through the interpreter.
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

# A NaN-making bug makes numpy warn inside the interpreter: expected, the test is the verdict.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# The run that catches each bug: its stage's edge case, float64 where float64 shows it
# (found by trying the small cases, tagged ones first; one run per bug keeps this cheap).
ZERO_KEYS = "ntm-random-ff-multihead-zero-keys"   # N = 6, two heads of each kind
N1 = "ntm-random-ff-n1-init"
CAUGHT_BY = {
    "ContentNormWithoutDelta": (ZERO_KEYS, "float64"),
    "ContentSoftmaxBlockMask": (N1, "float64"),
    "ContentSoftmaxWithoutMax": ("ntm-copy-ff-overflow", "float32"),
    "GateGradsSwapped": (ZERO_KEYS, "float64"),
    "GateLoadedAlongRows": (ZERO_KEYS, "float64"),
    "ReadHalfAccumulation": (N1, "float64"),
    "SharpenGradWrongAxis": (ZERO_KEYS, "float64"),
    "ShiftGradNotTransposed": (ZERO_KEYS, "float64"),
    "ShiftWrapOffByOne": (N1, "float64"),
    "WriteLostHead": (N1, "float64"),
}
_CASES = {}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_triton_bug_is_caught_and_localised(name):
    cls = BUGS[name]
    case_name, dtype = CAUGHT_BY[name]
    if case_name not in _CASES:
        _CASES[case_name] = load_case(case_path(case_name))
    r = run_case(make_backend("cpu", dtype, model_cls=cls), _CASES[case_name], dtype,
                 Tolerance(), paths=False)
    assert r.status != PASS, f"{name} survived {case_name} ({dtype})"
    stage = r.divergence.stage if r.divergence else None
    assert stage in cls.STAGES, (f"{name} lives in {cls.STAGES} but the harness named "
                                 f"{stage!r} on {case_name} ({dtype}): "
                                 f"{r.error or r.first_divergence}")


def test_catalogue_is_kernel_level_and_documented():
    assert len(BUGS) >= 8 and set(CAUGHT_BY) == set(BUGS)
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
