"""The Ray path of ``diffmem fuzz`` and ``diffmem calibrate`` on a local cluster (skipped
without the ``ray`` extra): the same verdicts and rows as the local pool.  One test, so
that pytest-xdist never starts two clusters on CI's two cores."""

import json

import pytest

from diffmem.cli import main

pytest.importorskip("ray")


@pytest.fixture
def local_cluster():
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_fuzz_and_calibrate_on_a_local_ray_cluster(local_cluster, tmp_path, capsys):
    _fuzz(tmp_path, capsys)
    _calibrate(tmp_path, capsys)


def _fuzz(tmp_path, capsys):
    code = main(["fuzz", "--family", "ntm", "--backend",
                 "diffmem.backends.scale_bugs:batch_chunk_32", "--dtype", "float64",
                 "--seed", "1", "--cases", "2", "--no-shrink", "--ray", "local",
                 "--out", str(tmp_path), "--max", "batch=40", "--max", "steps=2",
                 "--max", "rows=4", "--max", "read_heads=1", "--max", "write_heads=1"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "case 1: fuzz-ntm-1949027281-ff-B33-" in out and "FAIL" in out
    assert "minimal failing case: fuzz-ntm-1949027281-ff-B33-" in out


def _calibrate(tmp_path, capsys):
    argv = ["calibrate", "--cases", "2", "--configs", "1", "--seed", "3", "--small",
            "--backend", "torch", "--dtype", "float64", "--family", "ntm"]
    reports = {}
    for where in ("local", "ray"):
        reports[where] = tmp_path / f"{where}.json"
        extra = ["--ray", "local"] if where == "ray" else []
        assert main([*argv, *extra, "--report", str(reports[where])]) == 0
    capsys.readouterr()

    def rows(path):
        return sorted((r["case"], r["backend"], r["dtype"], r["status"])
                      for r in json.loads(path.read_text())["runs"])
    assert rows(reports["ray"]) == rows(reports["local"]) and len(rows(reports["ray"])) == 2
