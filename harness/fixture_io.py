"""Golden fixture files: the on-disk format, its deterministic writer and its checked loader.

One case per ``.npz`` file (HARNESS.md section 2), read with ``allow_pickle=False``.
Entries (numpy's ``.npy`` suffix dropped):

    case.json                 0-d unicode array: JSON {format, name, model, spec_version,
                              config, meta}
    params/<name>             float64, the model's parameter shapes
    inputs, targets, mask     float64 [B, T, X], [B, T, Y], [B, T]
    <dtype>/logits            the reference run in <dtype> (float64, float32, and the
    <dtype>/loss              low-precision modes tf32, bfloat16, float16 emulated,
    <dtype>/grad_inputs       stored as float32): [B, T, Y], [B], grads summed over
    <dtype>/grads/<name>      the batch, [B, T, X], and the full trace [B, T, ...]
    <dtype>/trace/<name>

``manifest.json`` beside the files lists every case with its sha256, spec version and the
tool versions that wrote it.  The loader trusts nothing: it checks the hash against the
manifest, the format and spec versions, the key set, dtypes and shapes, and every failure
is a ``FixtureError`` naming the file and how to get a good one back.

Everything model-specific comes from the case's bound ``Model`` (``diffmem.models.bind``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import pathlib
import zipfile
from dataclasses import dataclass

import numpy as np

from diffmem.models import Model, family_for
from diffmem.reference.precision import LOW_PRECISION, PRECISIONS

# The low-precision runs are the baselines of the tf32 / bfloat16 / float16 bounds
# (docs/precision.md); their values are float32 arrays (numpy has no bfloat16).
FORMAT = "diffmem-fixture/1"
MANIFEST_FORMAT = "diffmem-manifest/1"
MANIFEST = "manifest.json"
DTYPES = PRECISIONS   # the reference runs a case may store


def family_dtypes(model: Model) -> tuple:
    """The reference runs a case of ``model`` (a bound ``Model``) stores: those of DTYPES
    its family runs."""
    return tuple(d for d in DTYPES if d in model.dtypes)
# Any fixed timestamp works; 1980-01-01 is the earliest a zip can hold.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class FixtureError(ValueError):
    """A fixture file or folder that cannot be trusted; the message says what to do."""


def regenerate_hint(name=None, directory=None):
    """How to rebuild a fixture (or all of them) in the folder that was given."""
    which = f" --cases {name}" if name else ""
    default = default_fixture_dir()
    if directory is not None and pathlib.Path(directory).resolve() != default:
        return f"regenerate it with `diffmem fixtures generate{which} --fixtures {directory}`"
    return (f"regenerate it with `diffmem fixtures generate{which}` "
            f"(or restore the committed file with `git checkout -- fixtures/`)")


def storage_dtype(dtype) -> str:
    """The numpy dtype a stored run of ``dtype`` is kept in (float32 for a mode)."""
    return "float32" if dtype in LOW_PRECISION else dtype


def _fail(path, problem, name=None):
    path = pathlib.Path(path)
    raise FixtureError(f"fixture {path}: {problem}; {regenerate_hint(name, path.parent)}")


@dataclass(frozen=True)
class Case:
    name: str
    path: pathlib.Path
    model: Model      # the case's config bound to its family (``diffmem.models.bind``)
    meta: dict
    params: dict
    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    expected: dict    # {"float64": R, "float32": R, "tf32": R, ...}: the reference's runs
                      # (every dtype of DTYPES), with
                      # R = {logits, loss, grads: {name: arr}, grad_inputs, trace: {name: arr}}

    @property
    def config(self):
        return self.model.config

    @property
    def spec_version(self) -> str:
        return self.model.spec_version

    @property
    def batch_size(self):
        return self.inputs.shape[0]

    @property
    def steps(self):
        return self.inputs.shape[1]


# ------------------------------------------------------------------ locations

def default_fixture_dir() -> pathlib.Path:
    """The installed ``diffmem.fixtures`` package folder (editable or normal install)."""
    from diffmem import fixtures
    return pathlib.Path(fixtures.__file__).resolve().parent


def fixture_directory(directory):
    directory = default_fixture_dir() if directory is None else pathlib.Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FixtureError(f"--fixtures {directory}: is a file; expected the fixture folder "
                           f"(the one holding manifest.json)")
    if not directory.is_dir():
        raise FixtureError(f"--fixtures {directory}: does not exist; "
                           f"{regenerate_hint(directory=directory)}")
    return directory


def sha256_of(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# ------------------------------------------------------------------ manifest

def read_manifest(directory) -> dict:
    """The manifest of a fixture folder: {"format", "cases": {name: entry}}."""
    path = pathlib.Path(directory) / MANIFEST
    if not path.is_file():
        raise FixtureError(f"fixture manifest {path}: missing; "
                           f"{regenerate_hint(directory=directory)}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FixtureError(f"fixture manifest {path}: not valid JSON ({exc}); "
                           f"{regenerate_hint(directory=directory)}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT \
            or not isinstance(manifest.get("cases"), dict):
        raise FixtureError(f"fixture manifest {path}: expected format {MANIFEST_FORMAT!r} "
                           f"with a 'cases' table, got format "
                           f"{manifest.get('format') if isinstance(manifest, dict) else None!r}; "
                           f"{regenerate_hint(directory=directory)}")
    return manifest


def write_manifest(directory, cases: dict):
    """Write ``cases`` (name -> entry) as the manifest, byte-stable (sorted, fixed indent)."""
    manifest = {"format": MANIFEST_FORMAT, "cases": {k: cases[k] for k in sorted(cases)}}
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    (pathlib.Path(directory) / MANIFEST).write_text(text, encoding="utf-8")


def tool_versions() -> dict:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def v(dist):
        try:
            return version(dist)
        except PackageNotFoundError:
            return "unknown"
    return {"python": platform.python_version(), "numpy": np.__version__,
            "autograd": v("autograd"), "diffmem": v("diffmem")}


# ------------------------------------------------------------------ writing

def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    # np.ascontiguousarray would turn the 0-d header into shape (1,).
    arr = np.asarray(arr)
    np.lib.format.write_array(buf, arr if arr.flags.c_contiguous else arr.copy(order="C"),
                              allow_pickle=False)
    return buf.getvalue()


def case_entries(name, model: Model, meta, params, inputs, targets, mask, expected) -> dict:
    """The flat {entry: array} of one case (the file format above)."""
    header = {"format": FORMAT, "name": name, "model": model.name,
              "spec_version": model.spec_version, "config": model.config.to_dict(),
              "meta": meta}
    entries = {"case.json": np.array(json.dumps(header, sort_keys=True))}
    entries.update({f"params/{k}": np.asarray(v, np.float64) for k, v in params.items()})
    entries.update(inputs=np.asarray(inputs, np.float64),
                   targets=np.asarray(targets, np.float64), mask=np.asarray(mask, np.float64))
    for dtype in family_dtypes(model):
        entries.update(flatten_result(dtype, expected[dtype]))
    return entries


def flatten_result(dtype, r) -> dict:
    """A reference run {logits, loss, grad_inputs, grads, trace} as {"<dtype>/...": array},
    cast to its storage dtype (the entry names of the file format)."""
    store = storage_dtype(dtype)
    out = {f"{dtype}/{k}": np.asarray(r[k], store) for k in ("logits", "loss", "grad_inputs")}
    out.update({f"{dtype}/grads/{k}": np.asarray(v, store) for k, v in r["grads"].items()})
    out.update({f"{dtype}/trace/{k}": np.asarray(v, store) for k, v in r["trace"].items()})
    return out


def write_npz(path, entries: dict):
    """An ``.npz`` numpy reads back, with fixed order, timestamps and attributes, so the
    same arrays always give the same bytes (numpy's own savez stamps the current time)."""
    with zipfile.ZipFile(path, "w") as zf:
        for key in sorted(entries):
            info = zipfile.ZipInfo(key + ".npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3              # unix; the default depends on the host OS
            info.external_attr = 0o644 << 16
            zf.writestr(info, _npy_bytes(entries[key]), compresslevel=9)


# ------------------------------------------------------------------ reading

def expected_shapes(model: Model, B, T) -> dict:
    """entry -> (dtype, shape) that a case of this bound model and [B, T] must hold."""
    pshapes = model.param_shapes
    X, Y = model.config.input_size, model.config.output_size
    out = {f"params/{k}": ("float64", s) for k, s in pshapes.items()}
    out.update(inputs=("float64", (B, T, X)), targets=("float64", (B, T, Y)),
               mask=("float64", (B, T)))
    trace_shapes = model.trace_shapes(T)
    for dtype in family_dtypes(model):
        store = storage_dtype(dtype)
        out[f"{dtype}/logits"] = (store, (B, T, Y))
        out[f"{dtype}/loss"] = (store, (B,))
        out[f"{dtype}/grad_inputs"] = (store, (B, T, X))
        out.update({f"{dtype}/grads/{k}": (store, s) for k, s in pshapes.items()})
        out.update({f"{dtype}/trace/{e.name}":
                    (store, (B, T if e.steps is None else len(e.steps(T)))
                     + tuple(trace_shapes[e.name]))
                    for e in model.trace_entries})
    return out


def _read_header(path, npz, name):
    if "case.json" not in npz.files:
        _fail(path, "no 'case.json' entry (not a diffmem fixture?)", name)
    raw = npz["case.json"]
    if raw.dtype.kind != "U" or raw.shape != ():
        _fail(path, f"'case.json' must be a 0-d unicode array, got {raw.dtype} {raw.shape}", name)
    try:
        header = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        _fail(path, f"'case.json' is not valid JSON ({exc})", name)
    missing = [k for k in ("format", "name", "model", "spec_version", "config", "meta")
               if k not in header]
    if missing:
        _fail(path, f"'case.json' lacks {missing}", name)
    if header["format"] != FORMAT:
        _fail(path, f"file format {header['format']!r}, this diffmem reads {FORMAT!r}", name)
    return header


def load_case(path) -> Case:
    """Load and check one fixture file against its folder's manifest."""
    path = pathlib.Path(path)
    name = path.name[:-4] if path.name.endswith(".npz") else path.name
    if not path.parent.is_dir():
        fixture_directory(path.parent)
    if not path.is_file():
        _fail(path, "file does not exist", name)
    entry = read_manifest(path.parent)["cases"].get(name)
    if entry is None:
        _fail(path, f"no entry {name!r} in {path.parent / MANIFEST} (a file added or "
                    f"renamed by hand?)", name)
    digest = sha256_of(path)
    if digest != entry.get("sha256"):
        _fail(path, f"sha256 {digest[:16]}... differs from the manifest's "
                    f"{str(entry.get('sha256'))[:16]}... (the file was edited, truncated or "
                    f"corrupted after it was generated)", name)

    try:
        with np.load(path, allow_pickle=False) as npz:
            header = _read_header(path, npz, name)
            arrays = {k: npz[k] for k in npz.files if k != "case.json"}
    except FixtureError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        _fail(path, f"cannot be read as an .npz without pickle ({type(exc).__name__}: {exc})",
              name)

    if header["name"] != name:
        _fail(path, f"holds case {header['name']!r}, but its file name says {name!r}", name)
    try:
        spec = family_for(header["model"])
    except ValueError as exc:
        _fail(path, str(exc), name)
    for where, version in (("file", header["spec_version"]),
                           ("manifest", entry.get("spec_version"))):
        if version != spec.spec_version:
            _fail(path, f"spec version {version!r} in the {where}, but this diffmem implements "
                        f"{spec.spec_version!r} (a fixture of another spec version checks other "
                        f"semantics)", name)
    try:
        model = spec.bind(header["config"])
    except (ValueError, TypeError) as exc:
        _fail(path, f"invalid config: {exc}", name)

    if "inputs" not in arrays or arrays["inputs"].ndim != 3:
        _fail(path, "'inputs' missing or not [B, T, X]", name)
    B, T = arrays["inputs"].shape[:2]
    want = expected_shapes(model, B, T)
    missing, unknown = sorted(set(want) - set(arrays)), sorted(set(arrays) - set(want))
    if missing or unknown:
        _fail(path, f"entries do not match the {header['model']} model: missing {missing}, "
                    f"unexpected {unknown}", name)
    for key, (dtype, shape) in want.items():
        arr = arrays[key]
        ok = arr.shape == shape if shape is not None else arr.shape[:2] == (B, T)
        if arr.dtype != np.dtype(dtype) or not ok:
            _fail(path, f"entry {key!r}: expected {dtype} {shape or (B, T, '...')}, "
                        f"got {arr.dtype} {arr.shape}", name)

    def result(dtype):
        pre = f"{dtype}/"
        return {"logits": arrays[pre + "logits"], "loss": arrays[pre + "loss"],
                "grad_inputs": arrays[pre + "grad_inputs"],
                "grads": {k: arrays[f"{pre}grads/{k}"] for k in model.param_shapes},
                "trace": {k: arrays[f"{pre}trace/{k}"] for k in model.trace_names}}

    return Case(name=name, path=path, model=model, meta=header["meta"],
                params={k: arrays[f"params/{k}"] for k in model.param_shapes},
                inputs=arrays["inputs"], targets=arrays["targets"], mask=arrays["mask"],
                expected={dtype: result(dtype) for dtype in family_dtypes(model)})


# ------------------------------------------------------------------ listing

def matches(name, pattern) -> bool:
    """Whether a case name matches ``pattern``: shell globs, comma-separated for a union."""
    return any(fnmatch.fnmatchcase(name, p.strip()) for p in str(pattern).split(",") if p.strip())


def case_names(directory=None, pattern="*") -> list:
    """Names of the cases in a fixture folder matching ``pattern`` (comma-separated globs),
    sorted: every manifest entry, and every stray ``.npz`` (which then fails to load, rather
    than being silently skipped)."""
    directory = fixture_directory(directory)
    names = set(read_manifest(directory)["cases"]) | {p.stem for p in directory.glob("*.npz")}
    return sorted(n for n in names if matches(n, pattern))


def case_path(name, directory=None) -> pathlib.Path:
    return fixture_directory(directory) / f"{name}.npz"


def list_cases(directory=None, pattern="*") -> list:
    """The loaded (checked) cases of a fixture folder, sorted by name."""
    return [load_case(case_path(n, directory)) for n in case_names(directory, pattern)]
