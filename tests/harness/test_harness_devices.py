"""Worker counts and worker environments per device (harness/devices.py); no GPU needed:
the visible GPUs are given through CUDA_VISIBLE_DEVICES."""

import pytest

from diffmem.harness import devices
from diffmem.harness.devices import (default_jobs, validate_jobs, visible_gpu_ids,
                                     worker_environment)

TWO_GPUS = {"CUDA_VISIBLE_DEVICES": "0,1"}
NO_GPU = {"CUDA_VISIBLE_DEVICES": ""}


def test_visible_gpus_follow_cuda_semantics():
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": "3,1"}) == ["3", "1"]
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": "0,-1,2"}) == ["0"]   # stops at -1
    assert visible_gpu_ids({"CUDA_VISIBLE_DEVICES": "GPU-8a1b,GPU-77"}) == ["GPU-8a1b", "GPU-77"]
    assert visible_gpu_ids(NO_GPU) == []


def test_default_jobs(monkeypatch):
    monkeypatch.setattr(devices, "cpu_count", lambda: 16)
    assert default_jobs("cpu") == 4
    monkeypatch.setattr(devices, "cpu_count", lambda: 2)
    assert default_jobs("cpu") == 2
    assert default_jobs("cuda", TWO_GPUS) == 2
    assert default_jobs("cuda", {"CUDA_VISIBLE_DEVICES": "5"}) == 1
    assert default_jobs("cuda", NO_GPU) == 1          # refused later by validate_jobs
    assert default_jobs("cuda:1", TWO_GPUS) == 1


def test_valid_jobs_pass():
    assert validate_jobs("cpu", 7, NO_GPU) == 7
    assert validate_jobs("cuda", 2, TWO_GPUS) == 2
    assert validate_jobs("cuda:1", 1, TWO_GPUS) == 1


@pytest.mark.parametrize("device, jobs, env, message", [
    ("cpu", 0, NO_GPU, "expected an integer >= 1"),
    ("cuda", 3, TWO_GPUS, "2 GPU\\(s\\) visible .* use --jobs 2 or fewer"),
    ("cuda:0", 2, TWO_GPUS, "one GPU takes one worker .* use --jobs 1"),
    ("cuda", 1, NO_GPU, "no CUDA device is visible .*diffmem doctor"),
])
def test_jobs_that_cannot_work_are_refused_with_the_fix(device, jobs, env, message):
    with pytest.raises(ValueError, match=message):
        validate_jobs(device, jobs, env)


def test_bad_device_is_refused():
    with pytest.raises(ValueError, match="device"):
        default_jobs("gpu")


def test_worker_environment():
    cpu = worker_environment("cpu", 0, {"XDG_CACHE_HOME": "/c"})
    assert cpu == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "JAX_COMPILATION_CACHE_DIR": "/c/diffmem/jax",
                   "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                   "JAX_COMPILATION_CACHE_MAX_SIZE": str(1 << 30),
                   "DIFFMEM_JAX_PROGRAMS": "/c/diffmem/jax-programs"}
    # A compilation cache or program folder the user chose is kept.
    mine = worker_environment("cpu", 0, {"JAX_COMPILATION_CACHE_DIR": "/mine",
                                         "DIFFMEM_JAX_PROGRAMS": "/mine2"})
    assert "JAX_COMPILATION_CACHE_DIR" not in mine and "DIFFMEM_JAX_PROGRAMS" not in mine
    assert "OMP_NUM_THREADS" not in worker_environment("cpu", 0, {"OMP_NUM_THREADS": "8"})
    for worker, gpu in ((0, "0"), (1, "1"), (2, "0")):
        env = worker_environment("cuda", worker, dict(TWO_GPUS))
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
        assert env["CUDA_VISIBLE_DEVICES"] == gpu
    one = worker_environment("cuda:1", 0, dict(TWO_GPUS))   # the index names the GPU itself
    assert one["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" and "CUDA_VISIBLE_DEVICES" not in one


def test_builds_kept_without_an_access_time_are_dated_so_jax_can_keep_new_ones(tmp_path):
    """A cache filled while it was unbounded (an older diffmem) has no ``-atime`` files; a
    bounded JAX cache then fails every write.  Dating the old builds lets it write again,
    and evict the oldest first."""
    import os

    from jax._src.lru_cache import LRUCache   # JAX's own bounded cache, as its workers use it

    from diffmem.harness.devices import date_undated_builds
    old = tmp_path / "jit_program-old-cache"
    old.write_bytes(b"x" * 10)
    os.utime(old, ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(FileNotFoundError):
        LRUCache(str(tmp_path), max_size=25).put("jit_program-new", b"y" * 10)
    assert date_undated_builds(tmp_path) == 1
    assert (tmp_path / "jit_program-old-atime").read_bytes() == \
        (1_000_000_000).to_bytes(8, "little")
    assert date_undated_builds(tmp_path) == 0                  # dated once
    cache = LRUCache(str(tmp_path), max_size=25)
    cache.put("jit_program-new", b"y" * 10)
    cache.put("jit_program-newer", b"z" * 10)                  # over the bound: oldest out
    assert cache.get("jit_program-new") == b"y" * 10
    assert not old.exists() and not list(tmp_path.glob("*.tmp"))


def test_spawned_worker_sees_the_environment(tmp_path):
    """What a pool initializer sets reaches code in the worker before any framework."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    import os
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                             initializer=devices.apply_worker_environment,
                             initargs=("cpu", 0)) as pool:
        got = pool.submit(os.getenv, "MKL_NUM_THREADS").result()
    assert got == os.environ.get("MKL_NUM_THREADS", "1")
