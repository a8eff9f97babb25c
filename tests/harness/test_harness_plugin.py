"""The pytest plugin and the importable conformance suite, run as a kernel author would:
a separate pytest process in a folder of its own, with the example third-party backend
(examples/my_kernel) on the path."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "my_kernel"
SMALL = "ntm-random-ff-n1-init"


def pytest_run(cwd, *args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(EXAMPLE))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def test_example_backend_passes_the_conformance_suite(tmp_path):
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance",
                           "--diffmem-backend", "my_kernel:make_backend",
                           "--diffmem-cases", SMALL, "--diffmem-heldout", "1",
                           "--diffmem-seed", "3", "-q")
    assert code == 0, out
    assert "28 passed" in out   # 7 checks x 2 dtypes x (1 fixture + 1 held-out case)


def test_heldout_seed_is_printed_and_shared_by_xdist_workers(tmp_path):
    pytest.importorskip("xdist")
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance",
                           "--diffmem-backend", "my_kernel:make_backend", "--diffmem-cases",
                           SMALL, "--diffmem-heldout", "1", "--diffmem-dtype", "float64",
                           "-n", "2")
    assert code == 0, out
    assert "diffmem: 1 held-out case(s) per family (delta, dnc, ntm, stack, stackrnn: 5 in all), " \
           "--diffmem-seed" in out
    assert "14 passed" in out


def test_failing_backend_gives_the_cli_message_per_check(tmp_path):
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance",
                           "--diffmem-backend", "diffmem.models.ntm.bugs:interface_bias_dropped",
                           "--diffmem-dtype", "float64", "--diffmem-cases", SMALL,
                           "--diffmem-heldout", "0", "-q")
    assert code == 1
    assert "7 failed" in out
    assert ("first divergence: t=0 stage 2 interface (compared before it and matched: step 0 "
            "stage 1)") in out
    assert f"test_conformance[{SMALL}-diffmem.models.ntm.bugs:interface_bias_dropped-float64-" \
           "trace]" in out


def test_plugin_adds_no_tests_without_the_suite(tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_one():\n    pass\n")
    code, out = pytest_run(tmp_path, "--collect-only", "-q")
    assert code == 0 and "1 test collected" in out
    code, out = pytest_run(tmp_path, "--help")
    assert "--diffmem-backend" in out and "--diffmem-cases" in out


def test_suite_without_a_backend_fails_with_a_message(tmp_path):
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance", "-q")
    assert code == 1 and "1 failed" in out and "give --diffmem-backend" in out


def test_plain_pytest_imports_a_backend_module_from_the_current_folder(tmp_path):
    # `pytest` (not `python -m pytest`) does not put the current folder on sys.path.
    (tmp_path / "kernel_here.py").write_text(
        "from diffmem.backends.reference import make_backend\n")
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    pytest_exe = pathlib.Path(sys.executable).with_name("pytest")
    proc = subprocess.run([str(pytest_exe), "-p", "no:cacheprovider", "--pyargs",
                           "diffmem.harness.conformance", "--diffmem-backend",
                           "kernel_here:make_backend", "--diffmem-cases", SMALL,
                           "--diffmem-dtype", "float64", "--diffmem-heldout", "0", "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "7 passed" in proc.stdout


def test_ini_settings_and_xdist(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ndiffmem_backend = my_kernel:make_backend\n"
        f"diffmem_cases = {SMALL}\ndiffmem_dtype = float64\n")
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance", "-q",
                           "-n", "2", "--dist", "loadgroup", "--diffmem-heldout", "0")
    assert code == 0, out
    assert "7 passed" in out
