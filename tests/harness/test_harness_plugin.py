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
                           "--diffmem-cases", SMALL, "-q")
    assert code == 0, out
    assert "10 passed" in out   # 5 checks x 2 dtypes


def test_failing_backend_gives_the_cli_message_per_check(tmp_path):
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance",
                           "--diffmem-backend", "diffmem.harness.bugs:interface_bias_dropped",
                           "--diffmem-dtype", "float64", "--diffmem-cases", SMALL, "-q")
    assert code == 1
    assert "5 failed" in out
    assert ("first divergence: t=0 stage 2 interface (everything before matched: step 0 "
            "stage 1)") in out
    assert f"test_conformance[{SMALL}-diffmem.harness.bugs:interface_bias_dropped-float64-" \
           "trace]" in out


def test_plugin_adds_no_tests_without_the_suite(tmp_path):
    (tmp_path / "test_mine.py").write_text("def test_one():\n    pass\n")
    code, out = pytest_run(tmp_path, "--collect-only", "-q")
    assert code == 0 and "1 test collected" in out
    code, out = pytest_run(tmp_path, "--help")
    assert "--diffmem-backend" in out and "--diffmem-cases" in out


def test_suite_without_a_backend_skips_with_a_reason(tmp_path):
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance", "-q", "-rs")
    assert code == 0 and "1 skipped" in out and "give --diffmem-backend" in out


def test_ini_settings_and_xdist(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ndiffmem_backend = my_kernel:make_backend\n"
        f"diffmem_cases = {SMALL}\ndiffmem_dtype = float64\n")
    code, out = pytest_run(tmp_path, "--pyargs", "diffmem.harness.conformance", "-q",
                           "-n", "2", "--dist", "loadgroup")
    assert code == 0, out
    assert "5 passed" in out
