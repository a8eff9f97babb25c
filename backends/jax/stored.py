"""Traced JAX programs kept on disk, so that a run after the first skips tracing them.

JAX's persistent compilation cache (turned on for diffmem's workers, harness/devices.py)
skips XLA's compile, but its key is the lowered program: every process still traces the
batched form, differentiates it and lowers it, 0.5-0.9 s per program on a CPU and the
largest part of a warm ``diffmem check``.  This module keeps each program's export
(``jax.export``: the lowered StableHLO, about 50 kB) in the folder named by
``DIFFMEM_JAX_PROGRAMS``; a later process loads it instead (about 0.2 s to a program
ready to run, XLA's build coming from JAX's cache).

The program run is the same either way.  A miss exports the program, stores it and
compiles the export's own call, so the first process and every later one compile the same
StableHLO (and share one entry of the compilation cache); the results equal a plain
``jit`` of the same program bit for bit (tests/backends/test_jax_stored.py).

A stored program is never stale: its key holds every input of the trace -- the source of
every Python file under diffmem's ``models``, ``backends`` and ``reference`` packages (a
bundled batched form imports nothing else of diffmem's), the versions of Python, JAX,
jaxlib, numpy and ml_dtypes, JAX's configuration, the config, the batched form's class,
call path, dtype, platform and the arguments' shapes and dtypes.  Editing any of those
files misses every stored program, which is then traced again.  A batched form, bug
class or family from outside diffmem may import any code, so its programs are not kept
(``keeps``).  A file that does not load (truncated, from another JAX) is traced again
and replaced; a program that cannot be exported is lowered as without this module.
Only CPU programs are kept: on a GPU the export's platform would have to name the
driver, and that path has not been run.  What a process patches at run time (a test's
``monkeypatch`` of an ops table) is not in the key: the folder is used only where
``DIFFMEM_JAX_PROGRAMS`` is set, which diffmem sets for its check workers, fresh
processes that patch nothing; a process that patches diffmem's code must leave it unset.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import sys
import tempfile
import time
from functools import lru_cache

import jax
from jax import export

VARIABLE = "DIFFMEM_JAX_PROGRAMS"
SUFFIX = ".jaxexport"
MAX_BYTES = 200 * 10**6   # about 4,000 programs


def directory():
    """The folder programs are kept in, or None: nothing is kept when
    ``DIFFMEM_JAX_PROGRAMS`` is unset or empty, or without the ``flatbuffers`` package
    that ``jax.export`` serialises with (the ``jax`` extra installs it)."""
    folder = os.environ.get(VARIABLE)
    return pathlib.Path(folder) if folder and serialisable() else None


@lru_cache(maxsize=1)
def serialisable() -> bool:
    try:
        import flatbuffers  # noqa: F401
    except ImportError:
        return False
    return True


def keeps(batched, family) -> bool:
    """Whether a program of this batched form can be kept: only when the form, every
    class it derives from (but Python's own, versioned in the key) and its family are
    diffmem's own, whose imports stay inside the packages the key hashes.  A third-party family or bug class may import from anywhere,
    so its programs are traced in every process."""
    classes = list(type(batched).__mro__) + [type(family)]
    return all(c.__module__.startswith("diffmem.") for c in classes
               if c.__module__.split(".")[0] not in sys.stdlib_module_names)   # (object, ABC)


def _source_folders() -> tuple:
    import diffmem.backends
    import diffmem.models
    import diffmem.reference
    return tuple(sorted({pathlib.Path(p).resolve() for pkg in (
        diffmem.models, diffmem.backends, diffmem.reference) for p in pkg.__path__}))


@lru_cache(maxsize=None)
def _source_digest(folders: tuple) -> str:
    h = hashlib.sha256()
    paths = sorted({p for folder in folders for p in folder.rglob("*.py")
                    if "__pycache__" not in p.parts})
    for path in paths:
        h.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@lru_cache(maxsize=1)
def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version
    out = [sys.version]
    for dist in ("jax", "jaxlib", "numpy", "ml_dtypes"):
        try:
            out.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist}=none")
    return ";".join(out)


def _jax_configuration() -> str:
    simple = (bool, int, float, str, type(None))
    return repr(sorted((k, v) for k, v in jax.config.values.items()
                       if isinstance(v, simple)))


def key(config, batched, want_trace, want_grads, args, dtype, platform) -> str:
    """The file name (without folder) of a program: a hash of everything its trace
    depends on (module docstring)."""
    leaves, tree = jax.tree_util.tree_flatten(args)
    cls = type(batched)
    parts = [
        _source_digest(_source_folders()), _versions(), _jax_configuration(),
        repr(config), f"{cls.__module__}.{cls.__qualname__}",
        repr((want_trace, want_grads, dtype, platform)), repr(tree),
        repr([(tuple(a.shape), str(a.dtype)) for a in leaves]),
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest() + SUFFIX


def load(path):
    """The stored export at ``path``, or None when there is none or it does not load."""
    try:
        exported = export.deserialize(bytearray(path.read_bytes()))
    except Exception:   # noqa: BLE001 -- missing, damaged or foreign: traced again
        return None
    try:
        os.utime(path)   # used now: ``trim`` keeps it over the older ones
    except OSError:
        pass
    return exported


def trim(folder, max_bytes=MAX_BYTES):
    """Delete the least recently used programs while the folder holds more than
    ``max_bytes``, down to 90 % of it (each new seed of held-out draws adds its own; the
    fixtures' programs, used by every check, stay), and a half-written file a killed
    process left an hour ago."""
    files, now = [], time.time()
    for path in folder.iterdir():
        try:
            st = path.stat()
        except OSError:
            continue
        if path.suffix == SUFFIX:
            files.append((st.st_mtime, st.st_size, path))
        elif path.suffix == ".tmp" and now - st.st_mtime > 3600:
            path.unlink(missing_ok=True)
    total = sum(size for _, size, _ in files)
    if total <= max_bytes:
        return
    for _, size, path in sorted(files):
        if total <= 0.9 * max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size


def save(path, exported):
    """Write atomically: a worker reading while another writes sees the old file or the
    new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(exported.serialize())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def lowered(program, args, path):
    """The program lowered through its export: loaded from ``path``, or exported from
    ``program`` (a function to ``jit``) and stored there."""
    exported = load(path)
    if exported is None:
        try:
            exported = export.export(jax.jit(program), platforms=("cpu",))(*args)
        except Exception:   # noqa: BLE001 -- e.g. a host callback: not exportable
            return jax.jit(program).lower(*args)   # (a trace error raises here)
        try:
            save(path, exported)
            trim(path.parent)
        except OSError:   # a read-only or full disk costs the next run its trace only
            pass
    return jax.jit(exported.call).lower(*args)
