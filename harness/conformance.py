"""The conformance suite: one pytest test per (case, backend, dtype, check).

A kernel author's repository runs it with one command:

    pytest --pyargs diffmem.harness.conformance --diffmem-backend mypkg.kernel:make_backend

(options: ``--diffmem-device``, ``--diffmem-dtype``, ``--diffmem-cases``,
``--diffmem-fixtures``, ``--diffmem-heldout``, ``--diffmem-seed``, ``--diffmem-timeout``,
``--diffmem-strict``, ``--diffmem-shard I/N``, tolerance overrides; see
``pytest_plugin.py``).  The cases are the
pinned fixtures and the session's held-out random cases; the checks are ``CHECKS``
(``compare.py``).  Verdicts follow ``diffmem check``: a check passes only when everything
in it was checked; an incomplete check fails; an absent (optional) trace is skipped as
"not compared"; a case the backend declares unsupported is skipped (fails under
``--diffmem-strict``).  Without a backend the suite fails with a message: a CI job that
forgot ``--diffmem-backend`` must not stay green.

Each worker runs a backend once per case and caches the comparison, so the checks of a
case cost one run; with pytest-xdist, ``-n auto --dist loadgroup`` keeps a case's checks
on one worker (plain ``-n auto`` works too).
"""

from __future__ import annotations

import pytest

from diffmem.harness.compare import (CHECKS, INCOMPLETE, NOT_COMPARED, PASS, UNSUPPORTED,
                                     CaseResult)
from diffmem.harness.pytest_plugin import settings

# worker-local caches (backends: check.backend_for): nothing is shared between xdist workers
_CASES = {}
_RESULTS = {}


def _dtypes(s):
    from diffmem.harness.options import parse_dtypes
    return parse_dtypes(s["dtype"])


def _cases(s):
    """[(name, CaseRef)]: the pinned fixtures matching the glob, then the held-out draws."""
    from diffmem.harness.check import fixture_refs, heldout_refs
    from diffmem.harness.options import parse_families
    family = s.get("family")
    chosen = parse_families([family] if isinstance(family, str) else family)
    refs, shapes, _ = fixture_refs(s["fixtures"], s["cases"], s["trust_fixtures"], chosen)
    extra, extra_shapes = heldout_refs(s["seed"], s["heldout"], chosen)
    refs = refs + extra
    if s.get("shard"):
        from diffmem.harness.schedule import parse_shard, shard
        part = parse_shard(s["shard"])
        if s["heldout"] and not s["seed_given"]:
            raise ValueError(f"--diffmem-shard {s['shard']}: give --diffmem-seed S too, so "
                             f"that every shard draws the same held-out cases")
        refs = shard(refs, {**shapes, **extra_shapes}, *part)
    return [(r.name, r) for r in refs]


def pytest_generate_tests(metafunc):
    if "diffmem_run" not in metafunc.fixturenames:
        return
    s = settings(metafunc.config)
    if not s["backends"]:
        metafunc.parametrize("diffmem_run", [pytest.param(("usage-error", (
            "no backend to check: give --diffmem-backend NAME|package.module:make_backend "
            "(or the ini key diffmem_backend); the suite fails rather than pass "
            "without one")))], ids=["no-backend"])
        return
    try:
        dtypes = _dtypes(s)
        cases = _cases(s)
    except ValueError as exc:
        metafunc.parametrize("diffmem_run", [pytest.param(("usage-error", str(exc)))],
                             ids=["usage-error"])
        return
    metafunc.config._diffmem_refs = dict(cases)
    params = [pytest.param((backend, dtype, name, check),
                           id=f"{name}-{backend}-{dtype}-{check}",
                           # every dtype of a case on one worker: a float32 run's
                           # noise-only tensors need the float64 run, which another
                           # worker would compute a second time
                           marks=pytest.mark.xdist_group(f"{name}-{backend}"))
              for backend in s["backends"] for dtype in dtypes
              for name, _ in cases for check in CHECKS]
    metafunc.parametrize("diffmem_run", params)


def _tolerance(s):
    from diffmem.harness.tolerance import make_tolerance
    return make_tolerance(s["k"], s["rtol"], s["atol"], s["tolerance"])


def case_result(config, backend_spec, dtype, case_name) -> CaseResult:
    """The comparison of one backend on one case, computed once per worker; a
    low-precision run's unresolvable tensors are covered by the float64 run when the
    session checks float64 too."""
    from diffmem.harness import check
    from diffmem.harness.check import Unavailable, backend_for, baselines
    from diffmem.harness.compare import run_case
    s = settings(config)
    key = (backend_spec, s["device"], dtype, case_name)
    if key in _RESULTS:
        return _RESULTS[key]
    backend = backend_for(backend_spec, s["device"], dtype)
    if isinstance(backend, Unavailable):
        result = CaseResult(case_name, backend_spec, dtype, 0.0, error=backend.reason)
    else:
        if case_name not in _CASES:
            ref = config._diffmem_refs[case_name]
            _CASES[case_name] = ref.load(baselines(_dtypes(s)))
        result = run_case(backend, _CASES[case_name], dtype, _tolerance(s),
                          timeout=s["timeout"] or None)
        if result.error and result.error.startswith("timed out"):
            check.retire_backend(backend_spec, s["device"], dtype,
                                 f"not run: this backend's earlier call on {case_name} "
                                 f"timed out")
    _RESULTS[key] = result
    if dtype != "float64" and result.noise_only:
        if "float64" in _dtypes(s):
            result.cover(case_result(config, backend_spec, "float64", case_name))
        if not s["strict"]:
            result.judge_alone()
    return result


def test_conformance(diffmem_run, request):
    if diffmem_run[0] == "usage-error":
        pytest.fail(diffmem_run[1], pytrace=False)
    backend, dtype, case_name, check = diffmem_run
    s = settings(request.config)
    result = case_result(request.config, backend, dtype, case_name)
    status, message = result.check(check)
    if status == NOT_COMPARED:
        pytest.skip(message)
    if status == UNSUPPORTED and not s["strict"]:
        pytest.skip(message)
    if status != PASS:
        hint = ("\n(a low precision cannot resolve these tensors; add --diffmem-dtype float64 "
                "so the float64 run checks them)" if status == INCOMPLETE else "")
        pytest.fail(f"{case_name} [{backend}, {dtype}] {check}: {str(status).upper()}\n"
                    f"{message}{hint}", pytrace=False)
