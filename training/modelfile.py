"""Model files: a trained model's parameters plus a JSON header, in one ``.npz``.

Layout (loaded with ``allow_pickle=False``: reading a file never runs code):
- ``header``: a 0-d unicode array holding JSON: ``format`` ("diffmem-model/1"),
  ``spec_version`` (its family's, e.g. "ntm/1"), ``config`` (the config's ``to_dict()``),
  ``task`` ({"name", "options"}), ``training`` (the arguments, incl. the exact
  ``command`` line), ``steps``, ``sequences``, ``metrics`` (latest), ``history``.
- ``param/<name>``: each parameter under its spec's name, float64.
- ``optim/<slot>/<name>`` and ``optim/t``: the optimizer state, so ``--resume`` continues
  exactly where training stopped.

Saving writes a temporary file in the same folder and renames it over the target, so a
crash or Ctrl-C mid-write never leaves a half-written model behind.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from diffmem.models import bind
from diffmem.reference.validate import validate_params

FORMAT = "diffmem-model/1"
# A .npz is a zip archive: local file header, or the end record of an empty archive.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class ModelFileError(ValueError):
    """A file that is not a usable model file; ``problem`` says why (without the path)."""

    def __init__(self, path, problem):
        super().__init__(f"model file {path}: {problem}")
        self.path, self.problem = path, problem


class ModelSaveError(ValueError):
    """A model file could not be written (a full disk, a device in the way): one line."""


class ModelFile:
    """What a model file holds: ``header`` (dict), ``config``, ``params``, ``optim``."""

    def __init__(self, header, params, optim=None):
        self.header = header
        self.config = bind(header["config"]).config
        self.params = params
        self.optim = optim or {}

    @property
    def task(self):
        return self.header["task"]


def save_model(path, header, params, optim=None):
    """Write atomically; ``header`` gains ``format``, ``spec_version`` and ``config``."""
    if "config" not in header:
        raise ValueError("save_model: header needs the model's 'config'")
    model = bind(header["config"])
    header = dict(header, format=FORMAT, spec_version=model.spec_version)
    params = validate_params(params, model.param_shapes)
    arrays = {"header": np.asarray(json.dumps(header, sort_keys=True))}
    arrays.update({f"param/{k}": np.asarray(v, dtype=np.float64) for k, v in params.items()})
    arrays.update({f"optim/{k}": np.asarray(v) for k, v in (optim or {}).items()})
    if os.path.lexists(path) and not os.path.isfile(path):
        raise ModelSaveError(f"{path}: is not a regular file; a model is never written over "
                             f"a folder or a device")
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=folder)
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is for the temporary file only
        os.replace(tmp, path)
    except OSError as exc:   # a full disk: the file there before is untouched
        raise ModelSaveError(f"{path}: could not write the model file "
                             f"({exc.strerror or exc}); the file there before is unchanged") \
            from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_model(path):
    """Read and check a model file; any problem is a ModelFileError (a ValueError) naming
    the file and what is wrong with it."""
    def bad(what):
        return ModelFileError(path, what)

    if os.path.isdir(path):
        raise bad("is a folder, not a model file")
    if not os.path.isfile(path):
        raise bad("no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    # Checked before numpy sees the file: np.load would try to unpickle anything that is
    # neither .npy nor .npz, and answer with a message about pickles.
    if magic not in ZIP_MAGIC:
        what = "is empty" if not magic else f"starts with {magic!r}"
        raise bad(f"not a .npz model file (a .npz is a zip archive; this file {what})")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise bad(f"not a readable .npz model file (truncated or damaged: {exc})") from None
    if "header" not in arrays:
        if "case.json" in arrays:
            raise bad("is a diffmem fixture (a case for `diffmem check`), not a model file")
        raise bad("no 'header' entry; not a diffmem model file "
                  f"(entries: {sorted(arrays)[:8]})")
    try:
        header = json.loads(str(arrays["header"]))
    except json.JSONDecodeError as exc:
        raise bad(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        got = header.get("format") if isinstance(header, dict) else type(header).__name__
        raise bad(f"expected format {FORMAT!r}, got {got!r}")
    try:
        model = bind(header.get("config"))
    except ValueError as exc:
        raise bad(str(exc)) from None
    implemented = model.spec_version
    if header.get("spec_version") != implemented:
        raise bad(f"made for spec {header.get('spec_version')!r}; this diffmem implements "
                  f"{implemented!r}")
    try:
        params = validate_params({k[len("param/"):]: v for k, v in arrays.items()
                                  if k.startswith("param/")}, model.param_shapes)
    except ValueError as exc:
        raise bad(str(exc)) from None
    optim = {k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")}
    return ModelFile(header, {k: v.astype(np.float64) for k, v in params.items()}, optim)
