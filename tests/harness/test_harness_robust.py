"""The check survives what a kernel does, and an interrupt keeps what was done.

A kernel that segfaults, calls ``sys.exit`` or aborts costs one run (an error row naming
the signal or exit status), with ``--jobs 1`` too; Ctrl-C or SIGTERM on ``check`` and
``fixtures generate`` stop within seconds and keep the finished work (table, report
marked incomplete, a manifest that matches the files).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from diffmem.harness.fixture_io import read_manifest, sha256_of

from .conftest import SMALL

TWO_SHAPES = f"{SMALL},ntm-copy-ff-init,ntm-copy-lstm-init"   # three configurations


def test_a_crashing_kernel_is_an_error_row_and_the_check_goes_on(run_check, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = run_check("--backend", "bad_backends:segv", "--backend", "bad_backends:exits",
                             "--backend", "bad_backends:aborts", "--backend", "reference",
                             "--dtype", "float64", "--report", str(report))
    assert code == 1
    assert "the worker process killed by SIGSEGV" in out
    assert "the worker process exited with status 3" in out
    assert "the worker process killed by SIGABRT" in out
    rows = json.loads(report.read_text())["results"]
    assert [r["status"] for r in rows] == ["error", "error", "error", "pass"]


def test_a_crash_costs_one_run_not_the_task(run_check):
    # Two cases in one task: the crash on the first leaves the second to a fresh worker
    # (which crashes again: two rows, each its own).
    code, out, _ = run_check("--backend", "bad_backends:segv", "--dtype", "float64",
                             "--cases", "ntm-copy-ff-init,ntm-copy-ff-sharp", "--keep-going")
    assert code == 1
    assert out.count("E1 (2 runs): crashed: the worker process killed by SIGSEGV") == 1


def _diffmem(*argv, env=None):
    return subprocess.Popen([sys.executable, "-m", "diffmem", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, **(env or {})})


def _wait_for(path, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the slow backend was never reached"
        time.sleep(0.1)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_check_keeps_its_table_and_report(bad_module, tmp_path, how):
    mark, report = tmp_path / "mark", tmp_path / "r.json"
    proc = _diffmem("check", "--backend", "bad_backends:slow_after_first", "--dtype", "float64",
                    "--cases", TWO_SHAPES, "--heldout", "0", "--jobs", "1", "--no-progress",
                    "--report", str(report),
                    env={"DIFFMEM_TEST_MARK": str(mark), "PYTHONPATH": str(bad_module)})
    _wait_for(mark, proc)
    sent = time.monotonic()
    os.killpg(proc.pid, how)   # as a terminal's Ctrl-C does: the whole process group
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 10, "the interrupt took too long"
    assert proc.returncode == 130, err
    assert "INTERRUPTED: the check is incomplete (1 of 3 runs finished" in out
    data = json.loads(report.read_text())
    assert data["complete"] is False
    statuses = [(r["status"], (r["error"] or "")[:7]) for r in data["results"]]
    assert statuses.count(("pass", "")) == 1
    assert statuses.count(("error", "not run")) == 2
    assert "Traceback" not in err


def test_an_interrupted_generation_leaves_a_manifest_that_matches_the_files(tmp_path):
    from diffmem.harness import catalogue as cat
    out = tmp_path / "fx"
    names = sorted(cat.catalogue(), key=lambda n: cat.catalogue()[n].cost)[:6]
    proc = _diffmem("fixtures", "generate", "--fixtures", str(out), "--cases", ",".join(names),
                    "--jobs", "2")
    deadline = time.monotonic() + 120
    while not [p for p in out.glob("*.npz") if not p.name.startswith(".")]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    manifest = read_manifest(out)["cases"]
    files = {p.stem for p in out.glob("[!.]*.npz")}
    assert set(manifest) == files and 0 < len(files) < len(names)
    for name in files:
        assert manifest[name]["sha256"] == sha256_of(out / f"{name}.npz")
    assert not list(out.glob(".tmp-*"))


def test_an_interrupted_calibration_prints_and_writes_what_it_finished(tmp_path):
    report = tmp_path / "cal.json"
    proc = _diffmem("calibrate", "--cases", "60", "--configs", "60", "--backend", "reference",
                    "--dtype", "float64", "--small", "--report", str(report))
    _wait_for(report, proc)   # written after the first configuration group
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "INTERRUPTED:" in out and "of 60 cases finished" in out
    data = json.loads(report.read_text())
    assert data["complete"] is False and 0 < len(data["runs"]) < 60
    assert "Traceback" not in err


def test_jobs_are_capped_by_the_cores_with_a_line_saying_so(run_check):
    from diffmem.harness.devices import jobs_cap
    cap, _ = jobs_cap("cpu")
    code, _, err = run_check("--backend", "reference", "--dtype", "float64", "--jobs", "100")
    assert code == 0
    assert f"--jobs 100: using {cap} worker process(es)" in err
