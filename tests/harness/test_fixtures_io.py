"""The fixture loader refuses every kind of untrustworthy file with a message that names
the file and says how to regenerate it (HARNESS.md section 2, issue 4 item 7)."""

import json
import pathlib
import shutil
import zipfile

import numpy as np
import pytest

from diffmem.harness import catalogue as cat
from diffmem.harness.fixture_gen import generate
from diffmem.harness.fixture_io import (FixtureError, MANIFEST, case_names, default_fixture_dir,
                                        list_cases, load_case, read_manifest, sha256_of,
                                        write_manifest, write_npz)

SMALL = "ntm-random-ff-n1-init"     # the smallest catalogued case: about a second to make


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixtures")
    generate(out, SMALL, jobs=1, log=lambda *_: None)
    return out


@pytest.fixture
def folder(made, tmp_path):
    """A private copy of the generated folder that a test may damage."""
    dst = tmp_path / "fx"
    shutil.copytree(made, dst)
    return dst


def _entries(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(folder, entries, name=SMALL):
    """Write entries as the case's file and record its new hash: an edit the hash misses."""
    path = folder / f"{name}.npz"
    write_npz(path, entries)
    cases = read_manifest(folder)["cases"]
    cases[name]["sha256"] = sha256_of(path)
    write_manifest(folder, cases)
    return path


def _assert_clear(exc_info, *words):
    msg = str(exc_info.value)
    assert "diffmem fixtures generate" in msg, msg
    for w in words:
        assert w in msg, f"{w!r} not in: {msg}"


# ------------------------------------------------------------------ the good path

def test_load_case_round_trips_the_catalogue_case(folder):
    case = load_case(folder / f"{SMALL}.npz")
    config, params, inputs, targets, mask, meta = cat.build(cat.catalogue()[SMALL])
    assert case.name == SMALL and case.model.name == "ntm" and case.spec_version == "ntm/1"
    assert case.config == config
    assert set(case.params) == set(params)
    for k in params:
        np.testing.assert_array_equal(case.params[k], params[k])
    np.testing.assert_array_equal(case.inputs, inputs)
    np.testing.assert_array_equal(case.targets, targets)
    np.testing.assert_array_equal(case.mask, mask)
    assert case.meta["data"]["task"] == "random" and case.meta["regime"] == "init"
    B, T = inputs.shape[:2]
    for dtype in ("float64", "float32"):
        r = case.expected[dtype]
        assert r["logits"].dtype == np.dtype(dtype) and r["logits"].shape == (B, T, config.Y)
        assert r["loss"].shape == (B,) and r["grad_inputs"].shape == inputs.shape
        assert set(r["grads"]) == set(params)
        assert r["trace"]["memory"].shape == (B, T, config.N, config.M)
    # The float32 baseline is a different run, not a cast of the float64 one.
    assert not np.array_equal(case.expected["float32"]["logits"],
                              case.expected["float64"]["logits"].astype(np.float32))


def test_files_hold_no_object_arrays(folder):
    for key, arr in _entries(folder / f"{SMALL}.npz").items():
        assert arr.dtype != object, key


def test_list_cases_and_names(folder):
    assert case_names(folder) == [SMALL]
    assert case_names(folder, "nothing-*") == []
    assert case_names(folder, "nothing-*, ntm-random-*") == [SMALL]
    assert [c.name for c in list_cases(folder)] == [SMALL]


def test_default_fixture_dir_is_the_installed_package_folder():
    from diffmem import fixtures
    d = default_fixture_dir()
    assert d == pathlib.Path(fixtures.__file__).resolve().parent
    assert (d / MANIFEST).is_file(), "bundled fixtures missing: run `diffmem fixtures generate`"


# ------------------------------------------------------------------ damaged files

def test_corrupted_file(folder):
    path = folder / f"{SMALL}.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "sha256", "corrupted")


def test_truncated_file(folder):
    path = folder / f"{SMALL}.npz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "truncated")


def test_edited_array_is_caught_by_the_hash(folder):
    path = folder / f"{SMALL}.npz"
    entries = _entries(path)
    entries["float64/logits"] = entries["float64/logits"] + 1e-3
    write_npz(path, entries)            # the manifest still has the old hash
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "edited")


def test_truncated_file_with_matching_hash_is_unreadable(folder):
    path = folder / f"{SMALL}.npz"
    path.write_bytes(path.read_bytes()[:2000])
    cases = read_manifest(folder)["cases"]
    cases[SMALL]["sha256"] = sha256_of(path)
    write_manifest(folder, cases)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "cannot be read")


def test_pickled_object_array_is_refused(folder):
    path = folder / f"{SMALL}.npz"
    entries = _entries(path)
    np.savez(path, **entries, evil=np.array([{"a": 1}], dtype=object))
    cases = read_manifest(folder)["cases"]
    cases[SMALL]["sha256"] = sha256_of(path)
    write_manifest(folder, cases)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path))


def test_missing_entry(folder):
    entries = _entries(folder / f"{SMALL}.npz")
    del entries["float32/trace/write.w_shifted"]
    path = _rewrite(folder, entries)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "missing", "float32/trace/write.w_shifted")


def test_unexpected_entry(folder):
    entries = _entries(folder / f"{SMALL}.npz")
    entries["float64/trace/bogus"] = np.zeros(3)
    path = _rewrite(folder, entries)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, "unexpected", "float64/trace/bogus")


def test_wrong_shape(folder):
    entries = _entries(folder / f"{SMALL}.npz")
    entries["float64/grads/interface.weight"] = entries["float64/grads/interface.weight"][:-1]
    path = _rewrite(folder, entries)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, "float64/grads/interface.weight", "expected float64")


def test_wrong_dtype(folder):
    entries = _entries(folder / f"{SMALL}.npz")
    entries["float32/logits"] = entries["float32/logits"].astype(np.float64)
    path = _rewrite(folder, entries)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, "float32/logits", "expected float32")


def _edit_header(folder, **changes):
    entries = _entries(folder / f"{SMALL}.npz")
    header = json.loads(str(entries["case.json"]))
    header.update(changes)
    entries["case.json"] = np.array(json.dumps(header))
    return _rewrite(folder, entries)


def test_another_spec_version_in_the_file(folder):
    path = _edit_header(folder, spec_version="ntm/0")
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "'ntm/0'", "'ntm/1'")


def test_another_spec_version_in_the_manifest(folder):
    cases = read_manifest(folder)["cases"]
    cases[SMALL]["spec_version"] = "ntm/2"
    write_manifest(folder, cases)
    with pytest.raises(FixtureError) as e:
        load_case(folder / f"{SMALL}.npz")
    _assert_clear(e, "'ntm/2'", "manifest")


def test_another_file_format(folder):
    path = _edit_header(folder, format="diffmem-fixture/99")
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, "diffmem-fixture/99")


def test_unknown_model(folder):
    path = _edit_header(folder, model="lsm")
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, "'lsm'")


def test_invalid_config(folder):
    entries = _entries(folder / f"{SMALL}.npz")
    header = json.loads(str(entries["case.json"]))
    header["config"]["memory_rows"] = 0
    entries["case.json"] = np.array(json.dumps(header))
    path = _rewrite(folder, entries)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, "memory_rows")


def test_renamed_file_is_not_in_the_manifest(folder):
    path = folder / "ntm-renamed.npz"
    shutil.copy(folder / f"{SMALL}.npz", path)
    assert "ntm-renamed" in case_names(folder)      # listed, so a check cannot skip it
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "no entry 'ntm-renamed'")
    with pytest.raises(FixtureError):
        list_cases(folder)


def test_manifest_entry_without_file(folder):
    (folder / f"{SMALL}.npz").unlink()
    with pytest.raises(FixtureError) as e:
        list_cases(folder)
    _assert_clear(e, "does not exist")


def test_missing_manifest(folder):
    (folder / MANIFEST).unlink()
    with pytest.raises(FixtureError) as e:
        load_case(folder / f"{SMALL}.npz")
    _assert_clear(e, str(folder / MANIFEST), "missing")


def test_broken_manifest(folder):
    (folder / MANIFEST).write_text("{not json")
    with pytest.raises(FixtureError) as e:
        case_names(folder)
    _assert_clear(e, "not valid JSON")


def test_missing_fixture_folder(tmp_path):
    gone = tmp_path / "nowhere"
    for call in (lambda: list_cases(gone), lambda: case_names(gone),
                 lambda: load_case(gone / f"{SMALL}.npz")):
        with pytest.raises(FixtureError) as e:
            call()
        _assert_clear(e, str(gone), "does not exist")


def test_not_a_zip_at_all(folder):
    path = folder / f"{SMALL}.npz"
    path.write_bytes(b"this is not a fixture")
    cases = read_manifest(folder)["cases"]
    cases[SMALL]["sha256"] = sha256_of(path)
    write_manifest(folder, cases)
    with pytest.raises(FixtureError) as e:
        load_case(path)
    _assert_clear(e, str(path), "cannot be read")
    assert not zipfile.is_zipfile(path)


def test_fixture_error_is_a_value_error():
    assert issubclass(FixtureError, ValueError)
