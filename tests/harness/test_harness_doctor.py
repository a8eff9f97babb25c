"""``diffmem doctor`` on a machine without a GPU (what CI has)."""

import json

import pytest

from diffmem.cli import main
from diffmem.harness.devices import cuda_check_plan, inventory
from diffmem.harness.doctor import format_inventory


@pytest.fixture(scope="module")
def info():
    return inventory()


def test_inventory_names_versions_devices_and_precision(info):
    assert info["versions"]["numpy"] and info["versions"]["diffmem"]
    assert info["torch"]["available"] and info["jax"]["available"]
    assert "cpu" in info["jax"]["default_backend"]
    settings = info["torch"]["settings"]
    assert any("matmul" in k for k in settings)
    assert info["cpu_jobs"] >= 1


def test_without_a_gpu_the_cuda_check_is_refused_with_the_reason(info):
    if info["torch"]["gpus"]:
        pytest.skip("a GPU is visible")
    assert info["torch"]["reason"] and info["jax"]["reason"]
    assert not info["cuda_check"]["runs"]
    assert "no CUDA device is visible" in info["cuda_check"]["reason"]


def test_the_plan_for_two_visible_gpus():
    plan = cuda_check_plan({"CUDA_VISIBLE_DEVICES": "0,1"})
    assert plan["runs"] and plan["jobs"] == 2 and plan["gpus"] == ["0", "1"]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in plan["worker_environment"]] == ["0", "1"]
    assert all(e["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
               for e in plan["worker_environment"])
    info = {"versions": {"numpy": "2"}, "torch": {"available": False, "reason": "no torch"},
            "jax": {"available": False, "reason": "no jax"}, "cpu_jobs": 2, "cuda_check": plan}
    text = format_inventory(info)
    assert "2 worker process(es), one per visible GPU (0, 1)" in text
    assert "XLA_PYTHON_CLIENT_PREALLOCATE=false" in text


def test_cli_text_and_json(capsys):
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    for needle in ("versions:", "torch:", "jax:", "matrix-product precision",
                   "diffmem check --device cuda"):
        assert needle in text
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"versions", "torch", "jax", "cpu_jobs", "cuda_check", "caches"}


def test_the_caches_a_check_keeps_are_named_with_what_they_hold(tmp_path):
    from diffmem.harness.devices import cache_folders
    traced = tmp_path / "diffmem" / "jax-programs"
    traced.mkdir(parents=True)
    (traced / "a.jaxexport").write_bytes(b"x" * 3000)
    (traced / "b.jaxexport").write_bytes(b"x" * 1000)
    caches = {c["variable"]: c for c in cache_folders({"XDG_CACHE_HOME": str(tmp_path)})}
    assert caches["DIFFMEM_JAX_PROGRAMS"]["folder"] == str(traced)
    assert (caches["DIFFMEM_JAX_PROGRAMS"]["files"], caches["DIFFMEM_JAX_PROGRAMS"]["bytes"]) \
        == (2, 4000)
    compiled = caches["JAX_COMPILATION_CACHE_DIR"]
    assert compiled["folder"] == str(tmp_path / "diffmem" / "jax") and compiled["files"] == 0
    mine = cache_folders({"JAX_COMPILATION_CACHE_DIR": str(traced)})   # the user's own wins
    assert mine[0]["folder"] == str(traced) and mine[0]["files"] == 2
    text = format_inventory({"versions": {}, "torch": {"available": False, "reason": "-"},
                             "jax": {"available": False, "reason": "-"}, "cpu_jobs": 2,
                             "cuda_check": {"runs": False, "reason": "-"},
                             "caches": list(caches.values())})
    assert f"traced JAX programs: {traced} (DIFFMEM_JAX_PROGRAMS): 2 files, 0.0 MB" in text
    assert "compiled JAX programs" in text and "empty: the next check" in text
