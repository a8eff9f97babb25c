"""The conformance suite: one pytest test per (case, backend, dtype, check).

A kernel author's repository runs it with one command:

    pytest --pyargs diffmem.harness.conformance --diffmem-backend mypkg.kernel:make_backend

(options: ``--diffmem-device``, ``--diffmem-dtype``, ``--diffmem-cases``,
``--diffmem-fixtures``, tolerance overrides; see ``pytest_plugin.py``).  The checks are
``logits``, ``loss``, ``grads``, ``grad_inputs`` and ``trace``; a failing test's message
is the one ``diffmem check`` prints; a part the backend does not return is skipped as
"not checked".  Each worker runs a backend once per case and caches the comparison,
so the five checks of a case cost one run; with pytest-xdist, ``-n auto --dist
loadgroup`` keeps a case's checks on one worker (plain ``-n auto`` works too).
"""

from __future__ import annotations

import pytest

from diffmem.harness.compare import CHECKS, NOT_CHECKED, PASS, CaseResult, describe_exception
from diffmem.harness.pytest_plugin import settings

_BACKENDS = {}   # worker-local caches: no state is shared between xdist workers
_CASES = {}
_RESULTS = {}


def _dtypes(choice):
    return ("float32", "float64") if choice == "both" else (choice,)


def pytest_generate_tests(metafunc):
    if "diffmem_run" not in metafunc.fixturenames:
        return
    s = settings(metafunc.config)
    if not s["backends"]:
        metafunc.parametrize("diffmem_run", [pytest.param(None, marks=pytest.mark.skip(
            reason="no backend to check: give --diffmem-backend NAME|package.module:factory"))],
            ids=["no-backend"])
        return
    from diffmem.harness.fixture_io import case_names
    try:
        names = case_names(s["fixtures"], s["cases"])
        if not names:
            raise ValueError(f"--diffmem-cases {s['cases']!r}: no fixture case matches")
    except ValueError as exc:
        metafunc.parametrize("diffmem_run", [pytest.param(("fixtures-error", str(exc)))],
                             ids=["fixtures-error"])
        return
    params = [pytest.param((backend, dtype, name, check),
                           id=f"{name}-{backend}-{dtype}-{check}",
                           marks=pytest.mark.xdist_group(f"{name}-{backend}-{dtype}"))
              for backend in s["backends"] for dtype in _dtypes(s["dtype"])
              for name in names for check in CHECKS]
    metafunc.parametrize("diffmem_run", params)


def _tolerance(s):
    from diffmem.harness.tolerance import make_tolerance
    return make_tolerance(s["k"], s["rtol"], s["atol"], s["tolerance"])


def case_result(config, backend_spec, dtype, case_name) -> CaseResult:
    """The comparison of one backend on one case, computed once per worker."""
    s = settings(config)
    key = (backend_spec, s["device"], dtype, case_name, s["fixtures"])
    if key in _RESULTS:
        return _RESULTS[key]
    from diffmem.backends.protocol import load_backend
    from diffmem.harness.compare import run_case
    from diffmem.harness.fixture_io import case_path, load_case
    bkey = (backend_spec, s["device"], dtype)
    if bkey not in _BACKENDS:
        try:
            _BACKENDS[bkey] = load_backend(backend_spec, s["device"], dtype)
        except Exception as exc:
            _BACKENDS[bkey] = f"could not make backend {backend_spec!r} ({s['device']}, " \
                              f"{dtype}): {describe_exception(exc)}"
    backend = _BACKENDS[bkey]
    if isinstance(backend, str):
        result = CaseResult(case_name, backend_spec, dtype, 0.0, error=backend)
    else:
        ckey = (s["fixtures"], case_name)
        if ckey not in _CASES:
            _CASES[ckey] = load_case(case_path(case_name, s["fixtures"]))
        result = run_case(backend, _CASES[ckey], dtype, _tolerance(s))
    _RESULTS[key] = result
    return result


def test_conformance(diffmem_run, request):
    if diffmem_run[0] == "fixtures-error":
        pytest.fail(diffmem_run[1], pytrace=False)
    backend, dtype, case_name, check = diffmem_run
    status, message = case_result(request.config, backend, dtype, case_name).check(check)
    if status == NOT_CHECKED:
        pytest.skip(message)
    if status != PASS:
        pytest.fail(f"{case_name} [{backend}, {dtype}] {check}: {status.upper()}\n{message}",
                    pytrace=False)
