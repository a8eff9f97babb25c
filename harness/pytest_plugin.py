"""The diffmem pytest plugin (entry point ``pytest11``): options for the conformance suite.

Loaded into every pytest run of an environment where diffmem is installed, so it only
adds options and one ini key: no fixtures are loaded, nothing is imported beyond this
module, and no test is added unless the conformance module is collected, e.g.

    pytest --pyargs diffmem.harness.conformance --diffmem-backend mypkg.kernel:make_backend

The parametrisation itself lives in ``diffmem.harness.conformance``.
"""

from __future__ import annotations

import sys

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("diffmem", "diffmem conformance suite "
                                       "(pytest --pyargs diffmem.harness.conformance)")
    group.addoption("--diffmem-backend", action="append", default=None,
                    metavar="NAME|module:factory",
                    help="backend to check: a registered name (jax, torch, reference) or "
                         "package.module:make_backend (repeatable)")
    group.addoption("--diffmem-device", default=None, help="device, e.g. cpu, cuda, cuda:1 "
                                                           "(default cpu)")
    group.addoption("--diffmem-dtype", action="append", default=None, metavar="DTYPE",
                    help="backend precision: float64, float32, tf32, bfloat16, float16 or "
                         "'both' (float32 and float64); repeatable (default: both)")
    group.addoption("--diffmem-cases", default=None, metavar="GLOB",
                    help="fixture case names (shell glob, comma-separated; default all)")
    group.addoption("--diffmem-family", action="append", default=None, metavar="NAME",
                    help="model families to check (ntm, stack, stackrnn; repeatable or "
                         "comma-separated; default: every registered family)")
    group.addoption("--diffmem-fixtures", default=None, metavar="DIR",
                    help="fixture folder (default: the installed diffmem fixtures)")
    group.addoption("--diffmem-rtol", type=float, default=None, help="relative floor override")
    group.addoption("--diffmem-atol", type=float, default=None, help="absolute floor override")
    group.addoption("--diffmem-k", type=float, default=None,
                    help="multiple of the reference's float32 error allowed")
    group.addoption("--diffmem-tolerance", action="append", default=None,
                    metavar="PATTERN=RTOL", help="per-tensor relative bound, e.g. "
                                                 "'grads/*=1e-4' (repeatable)")
    group.addoption("--diffmem-heldout", type=int, default=None, metavar="N",
                    help="held-out random cases drawn for this session per family "
                         "(default 4 per family; 0: none)")
    group.addoption("--diffmem-seed", type=int, default=None, metavar="S",
                    help="seed of the held-out cases (default: new each session, printed)")
    group.addoption("--diffmem-timeout", type=float, default=None, metavar="SECONDS",
                    help="limit for one backend call (default 600; 0: none)")
    group.addoption("--diffmem-shard", default=None, metavar="I/N",
                    help="run shard I of N of the suite's cases (1 <= I <= N; whole groups "
                         "of same-shaped cases, split as `diffmem check --shard` splits "
                         "them); needs --diffmem-seed when held-out cases are drawn")
    group.addoption("--diffmem-strict", action="store_true", default=False,
                    help="cases a backend declares unsupported fail instead of skipping, "
                         "and tensors float32 cannot resolve need a float64 run of the same "
                         "kernel (else the check is incomplete)")
    group.addoption("--diffmem-trust-fixtures", action="store_true", default=False,
                    help="accept a --diffmem-fixtures folder whose manifest is not the "
                         "pinned one")
    for name, help_text in (
            ("diffmem_backend", "backends for the conformance suite (one per line)"),
            ("diffmem_tolerance", "per-tensor bounds PATTERN=RTOL (one per line)")):
        parser.addini(name, help_text, type="linelist", default=[])
    for name, help_text in (("diffmem_device", "device for the conformance suite"),
                            ("diffmem_dtype", "float64, float32, tf32, bfloat16, float16 or "
                                              "both"),
                            ("diffmem_cases", "case glob"),
                            ("diffmem_family", "model families, comma-separated"),
                            ("diffmem_fixtures", "fixture folder")):
        parser.addini(name, help_text, default=None)


def settings(config) -> dict:
    """The suite's settings: command-line options first, then ini keys, then defaults."""
    def pick(option, ini, default=None):
        value = config.getoption(option)
        if value in (None, []):
            value = config.getini(ini) or None
        return default if value in (None, []) else value
    dtype = pick("diffmem_dtype", "diffmem_dtype", ["both"])
    heldout = config.getoption("diffmem_heldout")
    timeout = config.getoption("diffmem_timeout")
    return {
        "backends": list(pick("diffmem_backend", "diffmem_backend", [])),
        "device": pick("diffmem_device", "diffmem_device", "cpu"),
        "dtype": [dtype] if isinstance(dtype, str) else list(dtype),
        "heldout": 4 if heldout is None else heldout,
        "seed": _seed(config),
        "seed_given": config.getoption("diffmem_seed") is not None,
        "shard": config.getoption("diffmem_shard"),
        "timeout": 600.0 if timeout is None else timeout,
        "strict": config.getoption("diffmem_strict"),
        "trust_fixtures": config.getoption("diffmem_trust_fixtures"),
        "cases": pick("diffmem_cases", "diffmem_cases", "*"),
        "family": pick("diffmem_family", "diffmem_family"),
        "fixtures": pick("diffmem_fixtures", "diffmem_fixtures"),
        "rtol": config.getoption("diffmem_rtol"),
        "atol": config.getoption("diffmem_atol"),
        "k": config.getoption("diffmem_k"),
        "tolerance": list(pick("diffmem_tolerance", "diffmem_tolerance", [])),
    }


def _seed(config):
    """One held-out seed per session: drawn by the controller and handed to every xdist
    worker (each worker must collect the same test ids)."""
    given = config.getoption("diffmem_seed")
    if given is not None:
        return given
    worker = getattr(config, "workerinput", None)
    if worker is not None and "diffmem_seed" in worker:
        return worker["diffmem_seed"]
    if not hasattr(config, "_diffmem_seed"):
        from diffmem.harness.heldout import new_seed
        config._diffmem_seed = new_seed()
    return config._diffmem_seed


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["diffmem_seed"] = _seed(node.config)


def pytest_configure(config):
    # The conformance suite groups a case's checks for `pytest -n auto --dist loadgroup`;
    # registered here so that pytest knows the mark without pytest-xdist too.
    config.addinivalue_line("markers", "xdist_group(name): pytest-xdist loadgroup grouping")
    # `pytest` (not only `python -m pytest`) from the folder that holds a kernel author's
    # backend module must import it by the path given to --diffmem-backend.
    backends = config.getoption("diffmem_backend") or []
    if any(":" in b for b in backends):
        here = str(config.invocation_params.dir)
        if here not in sys.path:
            sys.path.insert(0, here)


def pytest_report_header(config):
    s = settings(config)
    if s["backends"] and s["heldout"]:
        from diffmem.models import families
        family = s.get("family")
        chosen = [f.strip() for v in ([family] if isinstance(family, str) else family or [])
                  for f in v.split(",") if f.strip()] or list(families())
        return (f"diffmem: {s['heldout']} held-out case(s) per family ({', '.join(chosen)}: "
                f"{s['heldout'] * len(chosen)} in all), --diffmem-seed {s['seed']} replays "
                f"them")
