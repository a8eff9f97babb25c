"""The diffmem pytest plugin (entry point ``pytest11``): options for the conformance suite.

Loaded into every pytest run of an environment where diffmem is installed, so it only
adds options and one ini key: no fixtures are loaded, nothing is imported beyond this
module, and no test is added unless the conformance module is collected, e.g.

    pytest --pyargs diffmem.harness.conformance --diffmem-backend mypkg.kernel:make_backend

The parametrisation itself lives in ``diffmem.harness.conformance``.
"""

from __future__ import annotations


def pytest_addoption(parser):
    group = parser.getgroup("diffmem", "diffmem conformance suite "
                                       "(pytest --pyargs diffmem.harness.conformance)")
    group.addoption("--diffmem-backend", action="append", default=None,
                    metavar="NAME|module:factory",
                    help="backend to check: a registered name (jax, torch, reference) or "
                         "package.module:make_backend (repeatable)")
    group.addoption("--diffmem-device", default=None, help="device, e.g. cpu, cuda, cuda:1 "
                                                           "(default cpu)")
    group.addoption("--diffmem-dtype", default=None,
                    choices=("float32", "float64", "both", "tf32", "bfloat16", "float16"),
                    help="backend precision (default both)")
    group.addoption("--diffmem-cases", default=None, metavar="GLOB",
                    help="fixture case names (shell glob, comma-separated; default all)")
    group.addoption("--diffmem-fixtures", default=None, metavar="DIR",
                    help="fixture folder (default: the installed diffmem fixtures)")
    group.addoption("--diffmem-rtol", type=float, default=None, help="relative floor override")
    group.addoption("--diffmem-atol", type=float, default=None, help="absolute floor override")
    group.addoption("--diffmem-k", type=float, default=None,
                    help="multiple of the reference's float32 error allowed")
    group.addoption("--diffmem-tolerance", action="append", default=None,
                    metavar="PATTERN=RTOL", help="per-tensor relative bound, e.g. "
                                                 "'grads/*=1e-4' (repeatable)")
    for name, help_text in (
            ("diffmem_backend", "backends for the conformance suite (one per line)"),
            ("diffmem_tolerance", "per-tensor bounds PATTERN=RTOL (one per line)")):
        parser.addini(name, help_text, type="linelist", default=[])
    for name, help_text in (("diffmem_device", "device for the conformance suite"),
                            ("diffmem_dtype", "float32, float64, both, tf32, bfloat16 or float16"),
                            ("diffmem_cases", "case glob"),
                            ("diffmem_fixtures", "fixture folder")):
        parser.addini(name, help_text, default=None)


def settings(config) -> dict:
    """The suite's settings: command-line options first, then ini keys, then defaults."""
    def pick(option, ini, default=None):
        value = config.getoption(option)
        if value in (None, []):
            value = config.getini(ini) or None
        return default if value in (None, []) else value
    return {
        "backends": list(pick("diffmem_backend", "diffmem_backend", [])),
        "device": pick("diffmem_device", "diffmem_device", "cpu"),
        "dtype": pick("diffmem_dtype", "diffmem_dtype", "both"),
        "cases": pick("diffmem_cases", "diffmem_cases", "*"),
        "fixtures": pick("diffmem_fixtures", "diffmem_fixtures"),
        "rtol": config.getoption("diffmem_rtol"),
        "atol": config.getoption("diffmem_atol"),
        "k": config.getoption("diffmem_k"),
        "tolerance": list(pick("diffmem_tolerance", "diffmem_tolerance", [])),
    }


def pytest_configure(config):
    # The conformance suite groups a case's checks for `pytest -n auto --dist loadgroup`;
    # registered here so that pytest knows the mark without pytest-xdist too.
    config.addinivalue_line("markers", "xdist_group(name): pytest-xdist loadgroup grouping")
