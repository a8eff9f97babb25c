"""Devices, and the worker processes a check can run on them.

``diffmem check``, ``calibrate`` and ``fixtures generate`` spread work over spawned
worker processes.  On a CPU that is one per core (at most 4), each with one framework
thread (``OMP_NUM_THREADS=1``: two workers with a thread pool per core each
oversubscribe the machine, measured 117 s against 57 s for the default check on 2
cores).  On a GPU the rules differ, and breaking them fails every run:

- JAX preallocates 75 % of a GPU's memory in every process that touches it
  (``XLA_PYTHON_CLIENT_PREALLOCATE``); a second process on the same GPU, torch's or
  JAX's, then runs out of memory.  Every worker gets ``XLA_PYTHON_CLIENT_PREALLOCATE=false``
  (JAX allocates what it uses, as torch does);
- one worker per visible GPU, each pinned to its own (``CUDA_VISIBLE_DEVICES`` set to
  that one GPU, so the worker's ``cuda`` is it); ``cuda:N`` names one GPU: one worker.

Nothing here imports JAX (it would preallocate the GPU in the parent process); GPUs
are counted from ``CUDA_VISIBLE_DEVICES`` or by torch.
"""

from __future__ import annotations

import os
import pathlib

from diffmem.backends.driver import parse_device

CPU_JOBS_MAX = 4


def cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def visible_gpu_ids(environ=None) -> list:
    """The GPUs this process may use, as CUDA_VISIBLE_DEVICES entries ('0', '1', or
    UUIDs), without initialising JAX.  CUDA stops reading the variable at its first
    invalid entry ('-1', empty): so does this."""
    environ = os.environ if environ is None else environ
    listed = environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        ids = []
        for entry in (e.strip() for e in listed.split(",")):
            if not entry or entry.startswith("-"):
                break
            ids.append(entry)
        return ids
    try:
        import torch
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        count = 0
    return [str(i) for i in range(count)]


def default_jobs(device="cpu", environ=None) -> int:
    """Worker processes for a check on ``device``: cpu, one per core (at most 4); cuda,
    one per visible GPU (at least 1); cuda:N, one."""
    kind, _ = parse_device(device)
    if kind == "cpu":
        return min(CPU_JOBS_MAX, cpu_count())
    if device == "cuda":
        return max(1, len(visible_gpu_ids(environ)))
    return 1


def validate_jobs(device, jobs, environ=None) -> int:
    """``jobs`` if it can work on ``device``, else ValueError saying why and what to use."""
    environ = os.environ if environ is None else environ
    kind, _ = parse_device(device)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"--jobs: expected an integer >= 1, got {jobs!r}")
    if kind == "cpu":
        return jobs
    gpus = visible_gpu_ids(environ)
    if not gpus:
        listed = environ.get("CUDA_VISIBLE_DEVICES")
        where = ("CUDA_VISIBLE_DEVICES is unset" if listed is None
                 else f"CUDA_VISIBLE_DEVICES={listed!r}")
        raise ValueError(f"--device {device}: no CUDA device is visible ({where}; torch "
                         f"finds none, or it is a CPU build); `diffmem doctor` shows what "
                         f"each framework sees")
    if device != "cuda" and jobs > 1:
        raise ValueError(f"--jobs {jobs} with --device {device}: one GPU takes one worker "
                         f"process (workers sharing a GPU compete for its memory); use "
                         f"--jobs 1, or --device cuda for one worker per visible GPU")
    if jobs > len(gpus):
        raise ValueError(f"--jobs {jobs} with --device cuda: {len(gpus)} GPU(s) visible "
                         f"(CUDA_VISIBLE_DEVICES / torch), and each worker needs a GPU of "
                         f"its own; use --jobs {len(gpus)} or fewer")
    return jobs


# The bound on the compilation cache diffmem's workers keep (about 7,000 programs).
JAX_CACHE_BYTES = 1 << 30


def worker_environment(device="cpu", worker=None, environ=None) -> dict:
    """Environment variables a spawned worker must start with (set before it imports
    torch or JAX, e.g. in the pool's initializer); ``worker``: its index, which on
    ``cuda`` pins it to one visible GPU.  A thread count the user set is kept."""
    environ = os.environ if environ is None else environ
    kind, _ = parse_device(device)
    env = {var: "1" for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if var not in environ}
    # Tracing and compiling the JAX programs is most of a first check's time (the default
    # check: 148 programs, ~220 of ~265 backend-seconds on 2 cores with XLA's quick
    # build): a persistent compilation cache makes every check after the first skip the
    # compiling, and the traced programs kept beside it (backends/jax/stored.py) skip
    # their tracing too.  Only diffmem's own processes get
    # them; a folder the user chose wins.
    cache = os.path.join(environ.get("XDG_CACHE_HOME")
                         or os.path.join(os.path.expanduser("~"), ".cache"), "diffmem")
    # Each new seed adds its held-out cases' programs: JAX evicts the least recently
    # used beyond the bound (the fixtures' programs, used by every check, stay).
    if "JAX_COMPILATION_CACHE_DIR" not in environ:
        env["JAX_COMPILATION_CACHE_DIR"] = os.path.join(cache, "jax")
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_COMPILATION_CACHE_MAX_SIZE"] = str(JAX_CACHE_BYTES)
    if "DIFFMEM_JAX_PROGRAMS" not in environ:
        env["DIFFMEM_JAX_PROGRAMS"] = os.path.join(cache, "jax-programs")
    if kind == "cuda":
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        gpus = visible_gpu_ids(environ)
        if device == "cuda" and worker is not None and gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[worker % len(gpus)]
    return env


def apply_worker_environment(device="cpu", worker=None):
    """Set ``worker_environment`` in this process (a pool initializer)."""
    env = worker_environment(device, worker)
    os.environ.update(env)
    if "JAX_COMPILATION_CACHE_MAX_SIZE" in env:
        date_undated_builds(env["JAX_COMPILATION_CACHE_DIR"])


def date_undated_builds(folder) -> int:
    """Give each build in JAX's compilation cache ``folder`` that has no access time the
    time it was written; returns how many.

    A bounded JAX cache keeps a ``<key>-atime`` file beside each ``<key>-cache`` and reads
    them all before it writes a new build; one missing, and every write fails (a
    FileNotFoundError, shown as a warning) so nothing new is ever kept.  A folder filled
    while the cache was unbounded (an older diffmem) has none.  The time is the build's
    own mtime, so two workers doing this at once write the same bytes."""
    made = 0
    try:
        builds = list(pathlib.Path(folder).glob("*-cache"))
    except OSError:
        return 0
    for build in builds:
        atime = build.with_name(build.name[:-len("-cache")] + "-atime")
        if atime.exists():
            continue
        partial = atime.with_name(f"{atime.name}.{os.getpid()}.tmp")
        try:
            partial.write_bytes(build.stat().st_mtime_ns.to_bytes(8, "little"))
            os.replace(partial, atime)
            made += 1
        except OSError:   # evicted meanwhile, or a read-only folder: JAX copes as before
            partial.unlink(missing_ok=True)
    return made


# ---------------------------------------------------------------- what is there

def _version(dist):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def versions() -> dict:
    import platform
    out = {"python": platform.python_version()}
    for dist in ("diffmem", "numpy", "autograd", "torch", "jax", "jaxlib", "triton"):
        out[dist] = _version(dist)
    return out


def torch_inventory() -> dict:
    """What torch sees: its CUDA build, each GPU with its free and total memory, and the
    matrix-product settings in force."""
    try:
        import torch
    except ImportError as exc:
        return {"available": False, "reason": f"torch is not importable ({exc})"}
    from diffmem.backends.torch.precision_modes import settings
    info = {"available": True, "cuda_build": torch.version.cuda, "settings": settings(),
            "gpus": []}
    if not torch.cuda.is_available():
        info["reason"] = (f"torch {torch.__version__} sees no CUDA device"
                          + (" (a CPU build)" if torch.version.cuda is None else ""))
        return info
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        major, minor = torch.cuda.get_device_capability(i)
        info["gpus"].append({"device": f"cuda:{i}", "name": torch.cuda.get_device_name(i),
                             "capability": f"{major}.{minor}", "free_bytes": int(free),
                             "total_bytes": int(total),
                             # TF32 tensor cores exist from compute capability 8.0 on
                             "tf32_capable": major >= 8})
    return info


def jax_inventory() -> dict:
    """What JAX sees, and its matrix-product precision in force.  Importing JAX here
    makes it claim GPU memory unless XLA_PYTHON_CLIENT_PREALLOCATE=false was set first
    (``diffmem doctor`` sets it for its own process)."""
    try:
        import jax
    except ImportError as exc:
        return {"available": False, "reason": f"jax is not importable ({exc})"}
    from diffmem.backends.driver import jax_xla_setting
    info = {"available": True, "default_backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "matmul_precision": jax.config.jax_default_matmul_precision,
            "cpu_build": jax_xla_setting(), "gpus": []}
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:
        info["reason"] = f"jax {jax.__version__} sees no GPU (install jax[cuda12] or jax[cuda13])"
        return info
    for d in gpus:
        stats = d.memory_stats() or {}
        info["gpus"].append({"device": str(d), "kind": getattr(d, "device_kind", "?"),
                             "bytes_limit": stats.get("bytes_limit"),
                             "bytes_in_use": stats.get("bytes_in_use")})
    return info


def cuda_check_plan(environ=None) -> dict:
    """What ``diffmem check --device cuda`` does here: its worker count and environment,
    or why it is refused."""
    jobs = default_jobs("cuda", environ)
    try:
        validate_jobs("cuda", jobs, environ)
    except ValueError as exc:
        return {"runs": False, "reason": str(exc)}
    return {"runs": True, "jobs": jobs, "gpus": visible_gpu_ids(environ),
            "worker_environment": [worker_environment("cuda", w, environ) for w in range(jobs)]}


# What a check's workers keep between checks (``worker_environment``).
CACHES = (("compiled JAX programs", "JAX_COMPILATION_CACHE_DIR"),
          ("traced JAX programs", "DIFFMEM_JAX_PROGRAMS"))


def cache_folders(environ=None) -> list:
    """The folders a check's workers keep JAX's work in, each with the variable that
    names it and the files and bytes it holds now."""
    environ = os.environ if environ is None else environ
    made = worker_environment("cpu", None, environ)
    out = []
    for what, variable in CACHES:
        folder = environ.get(variable) or made[variable]
        sizes = []
        try:
            for p in pathlib.Path(folder).iterdir():
                try:
                    if p.is_file():
                        sizes.append(p.stat().st_size)
                except OSError:   # evicted by a worker meanwhile
                    continue
        except OSError:   # not there yet, or not readable: nothing kept in it
            sizes = []
        out.append({"what": what, "variable": variable, "folder": folder,
                    "files": len(sizes), "bytes": sum(sizes)})
    return out


def inventory(environ=None) -> dict:
    """Everything ``diffmem doctor`` prints, as plain data."""
    return {"versions": versions(), "torch": torch_inventory(), "jax": jax_inventory(),
            "cpu_jobs": default_jobs("cpu"), "cuda_check": cuda_check_plan(environ),
            "caches": cache_folders(environ)}


# ---------------------------------------------------------------- how many workers fit

# A worker with JAX and torch imported and a case's programs compiled holds about 1 GB
# (measured: 12 workers of --jobs 100 held about 1 GB each).
WORKER_BYTES = 1 << 30


def available_memory() -> int | None:
    """Bytes of memory available for new processes (Linux: MemAvailable), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def jobs_cap(device="cpu") -> tuple:
    """(the most worker processes this machine runs usefully, why): on a CPU one per
    core, and on any device no more than the available memory holds at ``WORKER_BYTES``
    each."""
    cap, why = None, []
    kind, _ = parse_device(device)
    if kind == "cpu":
        cap = cpu_count()
        why.append(f"{cap} core(s)")
    memory = available_memory()
    if memory is not None:
        fits = max(1, memory // WORKER_BYTES)
        why.append(f"{memory / 2**30:.1f} GiB of memory available at about "
                   f"{WORKER_BYTES / 2**30:g} GiB per worker")
        cap = fits if cap is None else min(cap, fits)
    return cap, ", ".join(why)


def usable_jobs(jobs, device="cpu", flag="--jobs", explicit=True, log=None) -> int:
    """``jobs`` capped by ``jobs_cap``, with a line (stderr) saying so when the user
    asked for more (``explicit``)."""
    import sys
    cap, why = jobs_cap(device)
    if cap is None or jobs <= cap:
        return jobs
    if explicit:
        (log or (lambda line: print(line, file=sys.stderr)))(
            f"{flag} {jobs}: using {cap} worker process(es) ({why}); more would only "
            f"compete for them")
    return cap
