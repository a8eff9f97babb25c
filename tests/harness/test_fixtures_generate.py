"""``diffmem fixtures generate`` is deterministic and parallel; ``verify`` notices any change
of the stored reference results; the CLI's exit statuses (HARNESS.md section 2)."""

import argparse
import shutil

import numpy as np
import pytest

from diffmem.harness.fixture_commands import add_fixture_commands
from diffmem.harness.fixture_gen import compare_runs, generate, verify, verify_case
from diffmem.harness.fixture_io import (MANIFEST, load_case, read_manifest, sha256_of,
                                        write_manifest, write_npz)

# The two smallest catalogued cases (about a second each).
SMALL = ("ntm-random-ff-n1-init", "ntm-random-lstm-n2-init")
quiet = dict(log=lambda *_: None)


def main(argv):
    """``diffmem`` with only the fixture commands: these tests do not depend on the others."""
    parser = argparse.ArgumentParser(prog="diffmem")
    add_fixture_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial")
    generate(out, ",".join(SMALL), jobs=1, **quiet)
    return out


def test_generate_is_byte_identical_and_parallel_matches_serial(serial, tmp_path):
    generate(tmp_path, ",".join(SMALL), jobs=2, **quiet)     # spawn workers
    for name in SMALL:
        assert (tmp_path / f"{name}.npz").read_bytes() == (serial / f"{name}.npz").read_bytes()
    assert (tmp_path / MANIFEST).read_bytes() == (serial / MANIFEST).read_bytes()


def test_regenerating_one_case_keeps_the_others(serial, tmp_path):
    generate(tmp_path, SMALL[0], jobs=1, **quiet)
    first = (tmp_path / f"{SMALL[0]}.npz").read_bytes()
    generate(tmp_path, SMALL[1], jobs=1, **quiet)
    assert set(read_manifest(tmp_path)["cases"]) == set(SMALL)
    assert (tmp_path / f"{SMALL[0]}.npz").read_bytes() == first


def test_manifest_records_hash_spec_and_tools(serial):
    entries = read_manifest(serial)["cases"]
    assert set(entries) == set(SMALL)
    for name, e in entries.items():
        assert e["sha256"] == sha256_of(serial / e["file"])
        assert e["spec_version"] == "ntm/1" and e["model"] == "ntm"
        assert set(e["tools"]) == {"python", "numpy", "autograd", "diffmem"}


def test_unknown_pattern_is_refused(tmp_path):
    with pytest.raises(ValueError, match="matches no catalogued case"):
        generate(tmp_path, "no-such-case-*", jobs=1, **quiet)


def test_verify_passes_on_fresh_files(serial):
    assert verify_case(serial / f"{SMALL[0]}.npz", exact=True) == []
    assert verify([serial / f"{n}.npz" for n in SMALL], jobs=1, **quiet) == 0


def _tamper(folder, name, key, index, factor):
    """Change one stored number and re-hash: as if the reference had changed."""
    path = folder / f"{name}.npz"
    with np.load(path, allow_pickle=False) as z:
        entries = {k: z[k] for k in z.files}
    entries[key] = entries[key].copy()
    entries[key][index] *= factor
    write_npz(path, entries)
    cases = read_manifest(folder)["cases"]
    cases[name]["sha256"] = sha256_of(path)
    write_manifest(folder, cases)
    return path


def test_verify_names_the_case_and_tensor_that_moved(serial, tmp_path):
    folder = tmp_path / "fx"
    shutil.copytree(serial, folder)
    path = _tamper(folder, SMALL[0], "float64/trace/read.w_gated", (1, 3, 0, 0), 1 + 1e-10)
    problems = verify_case(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith("float64/trace/read.w_gated") and "(1, 3, 0, 0)" in problems[0]
    lines = []
    assert verify([path], jobs=1, log=lines.append) == 1
    assert lines[0].startswith(f"FAIL  {SMALL[0]}")
    assert main(["fixtures", "verify", "--dir", str(folder), "--cases", SMALL[0], "-j", "1"]) == 1


def test_compare_runs_bounds():
    stored = {"logits": np.array([[[1.0, -2.0]]]), "loss": np.array([3.0]),
              "grad_inputs": np.zeros((1, 1, 1)), "grads": {"w": np.array([1.0])},
              "trace": {"memory": np.array([[[4.0]]])}}

    def rerun(**changes):
        r = {k: (dict(v) if isinstance(v, dict) else v.copy()) for k, v in stored.items()}
        for key, value in changes.items():
            r[key] = value
        return r

    assert compare_runs(stored, rerun(), "float64", 0.0) == []
    # 1e-12 of the tensor's scale (2.0) is 2e-12: 1e-12 passes, 4e-12 does not.
    assert compare_runs(stored, rerun(logits=np.array([[[1.0 + 1e-12, -2.0]]])), "float64") == []
    bad = compare_runs(stored, rerun(logits=np.array([[[1.0 + 4e-12, -2.0]]])), "float64")
    assert len(bad) == 1 and bad[0].startswith("float64/logits") and "(0, 0, 0)" in bad[0]
    assert compare_runs(stored, rerun(loss=np.array([np.nan])), "float64", 1.0)
    assert compare_runs(stored, rerun(loss=np.array([3.0, 3.0])), "float64")


def test_cli_generate_list_verify(tmp_path, capsys):
    assert main(["fixtures", "generate", "--dir", str(tmp_path), "--cases", SMALL[0],
                 "-j", "1"]) == 0
    assert main(["fixtures", "list", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert SMALL[0] in out and "N=1" in out and "random" in out
    assert main(["fixtures", "verify", "--dir", str(tmp_path), "-j", "1", "--exact"]) == 0
    assert main(["fixtures", "generate", "--dir", str(tmp_path), "--cases", "nope"]) == 2
    assert main(["fixtures", "verify", "--dir", str(tmp_path / "missing")]) == 2
    capsys.readouterr()
    assert main(["fixtures", "list", "--catalogue", "--cases", "ntm-copy-*"]) == 0
    out = capsys.readouterr().out
    assert "ntm-copy-ff-init" in out and "ntm-random" not in out


def test_loaded_case_reruns_to_its_own_float32_baseline(serial):
    # The stored float32 results are the reference's own float32 run, not a cast.
    case = load_case(serial / f"{SMALL[1]}.npz")
    f32, f64 = case.expected["float32"], case.expected["float64"]
    err = np.abs(f32["logits"].astype(np.float64) - f64["logits"]).max()
    assert 0 < err < 1e-4


def test_full_generate_makes_the_folder_exactly_the_catalogue(tmp_path, monkeypatch):
    from diffmem.harness import catalogue as cat
    only = {SMALL[0]: cat.catalogue()[SMALL[0]]}
    monkeypatch.setattr(cat, "catalogue", lambda: only)
    (tmp_path / "ntm-retired.npz").write_bytes(b"old")
    write_manifest(tmp_path, {"ntm-retired": {"file": "ntm-retired.npz", "sha256": "0"}})
    generate(tmp_path, "*", jobs=1, **quiet)
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == [f"{SMALL[0]}.npz"]
    assert set(read_manifest(tmp_path)["cases"]) == {SMALL[0]}


def test_a_failing_case_keeps_the_manifest_true_for_files_already_written(tmp_path,
                                                                          monkeypatch):
    from diffmem.harness import catalogue as cat, fixture_gen
    real = fixture_gen.generate_case

    def flaky(name, out_dir, *path):
        if name == SMALL[1]:
            raise ValueError("boom")
        return real(name, out_dir, *path)

    monkeypatch.setattr(fixture_gen, "generate_case", flaky)
    monkeypatch.setattr(fixture_gen, "_cost", lambda spec: spec.name == SMALL[0])  # SMALL[0] first
    with pytest.raises(ValueError, match="boom"):
        generate(tmp_path, ",".join(SMALL), jobs=1, **quiet)
    assert set(read_manifest(tmp_path)["cases"]) == {SMALL[0]}
    load_case(tmp_path / f"{SMALL[0]}.npz")         # hash and file agree
    assert cat.catalogue()                          # the real catalogue is untouched
