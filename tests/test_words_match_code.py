"""The figures and commands in the README, docs/ and --help agree with the code.

Each test reads a figure or command a user relies on and derives the true value from
the code: a count that drifts, or a command that no longer does what it says, fails
here rather than in a user's hands."""

import pathlib
import re
import sys
import warnings

import numpy as np
import pytest

from diffmem.cli import build_parser, main

ROOT = pathlib.Path(__file__).resolve().parents[1]


def doc(name):
    path = ROOT / name
    if not path.exists():
        pytest.skip("not run from a checkout")
    return path.read_text(encoding="utf-8")


def section(text, title):
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:end if end > 0 else None]


def sh_lines(text):
    """Command lines of the ```sh blocks, comments and continuations folded."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [ln.split("#", 1)[0].strip() for ln in joined.splitlines()]
    return [ln for ln in lines if ln]


def test_quick_start_3_works_as_written(monkeypatch, capsys):
    """The README's kernel quick start: install the example package, check it on the
    family it implements, float32 beside float64.  The install is stood in for by the
    package's folder on the path (what `pip install -e` gives); the check is the README's
    own command, cut to two fixtures and one held-out draw to stay cheap."""
    import tomllib
    pytest.importorskip("torch")
    lines = sh_lines(section(doc("README.md"), "## Quick start 3"))
    install, check = lines
    assert install == "pip install -e examples/my_kernel"
    package = ROOT / "examples" / "my_kernel"
    meta = tomllib.loads((package / "pyproject.toml").read_text())
    assert meta["tool"]["setuptools"]["packages"] == ["my_kernel"]
    argv = check.split()
    assert argv[:2] == ["diffmem", "check"]
    spec = argv[argv.index("--backend") + 1]
    assert spec == "my_kernel:make_backend"
    assert meta["project"]["entry-points"]["diffmem.backends"]["my_kernel"] == spec
    monkeypatch.syspath_prepend(str(package))
    code = main(argv[1:] + ["--cases", "ntm-copy-ff-init,ntm-random-lstm-n2-init",
                            "--heldout", "1", "--jobs", "1", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "6 run(s): 6 passed" in out


def test_every_conformance_command_in_the_docs_runs_the_suite():
    # Without --pyargs diffmem.harness.conformance pytest collects no conformance test.
    for name in ["README.md"] + [f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")]:
        for line in sh_lines(doc(name)) + re.findall(r"`(pytest [^`]*)`", doc(name)):
            if line.startswith("pytest") and "--diffmem-" in line:
                assert "--pyargs diffmem.harness.conformance" in line, (name, line)


def test_gradcheck_configuration_count():
    from diffmem.models import families
    counts = {n: len(f.gradcheck_cases()) for n, f in families().items()}
    assert f"over {counts['ntm']} tiny configurations" in doc("docs/reference.md")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["gradcheck"]
    for name, n in counts.items():
        assert (f"{name} {n}" in sub.description) == (n > 0), (name, sub.description)


def test_bug_counts_in_the_docs():
    from collections import Counter

    from diffmem.harness.bug_hunt import all_bugs
    counts = Counter(family for family, _ in all_bugs().values())
    text = doc("docs/harness.md")
    stated = dict(re.findall(r"(\w+) (\d+) bugs", section(text, "## Kernel-bug catalogue")))
    assert {f: int(n) for f, n in stated.items()} == dict(counts), stated
    assert "**36/36**" in text   # the NTM's table as measured, before the saturated bugs


def test_the_help_texts_name_every_family_and_the_heldout_count_per_family():
    from diffmem.models import families
    top = build_parser()
    text = top.format_help()
    assert "NTM reference" not in text and "train and test NTMs" not in text
    for name in families():
        assert name in text, name
    check = next(a for a in top._actions if a.dest == "command").choices["check"]
    heldout = next(a for a in check._actions if a.dest == "heldout")
    assert "per family" in heldout.help


def test_the_conformance_header_counts_heldout_cases_per_family():
    from diffmem.harness.pytest_plugin import pytest_report_header
    from diffmem.models import families

    class Config:
        def getoption(self, name):
            return {"diffmem_backend": ["reference"], "diffmem_heldout": 4,
                    "diffmem_seed": 7}.get(name)

        def getini(self, name):
            return None
    line = pytest_report_header(Config())
    assert f"4 held-out case(s) per family" in line
    assert f"{4 * len(families())} in all" in line


def test_calibrate_small_keeps_its_promise():
    from diffmem.harness.calibrate import random_group
    from diffmem.harness.calibrate_commands import small_help
    from diffmem.models import families
    text = small_help()
    for name, fam in families().items():
        limits = getattr(fam.calibration, "SMALL_LIMITS", None)
        if not limits:   # said to be unaffected
            assert name in text.split(";", 1)[1], name
            continue
        assert f"T <= {limits['T']}" in text
        for group in range(40):
            draw = random_group(3, group, small=True, chosen=(name,))
            assert draw["steps"] <= limits["T"]
            assert draw["config"]["memory_rows"] <= limits["N"]


@pytest.mark.parametrize("argv", [["calibrate", "--configs", "0"],
                                  ["calibrate", "--cases", "2", "--configs", "3"],
                                  ["check", "--jobs", "abc"], ["check", "--device", "tpu"],
                                  ["check", "--backend", ":"], ["check", "--fixtures", "README.md"],
                                  ["train", "--task", "nope"], ["gradcheck", "--only", "nope"]])
def test_every_mistake_is_one_line_naming_its_flag(argv, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    flag = next(a for a in argv[1:] if a.startswith("--"))
    assert flag in err and err.startswith(f"diffmem {argv[0]}"), err


@pytest.mark.parametrize("source", [
    "def broken(:\n",
    "raise RuntimeError('no GPU found')\n",
    "import os\nos.environ['X'] = 1\n",
])
def test_a_backend_module_that_fails_to_import_is_one_line(source, tmp_path, capsys,
                                                             monkeypatch):
    (tmp_path / "bad_import.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("bad_import", None)
    assert main(["check", "--backend", "bad_import:make_backend", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "importing module 'bad_import' raised" in err, err


def test_doctor_says_unset_for_an_unset_cuda_visible_devices():
    from diffmem.harness.devices import cuda_check_plan
    plan = cuda_check_plan(environ={})
    if plan["runs"]:
        pytest.skip("torch sees a GPU here")
    assert "CUDA_VISIBLE_DEVICES is unset" in plan["reason"]
    assert "None" not in plan["reason"]


def test_an_overflowing_mode_is_reported_not_warned_about():
    """fixtures verify on a float16 case that overflows: no RuntimeWarning on the way."""
    from diffmem.harness.fixture_gen import compare_runs
    from diffmem.reference import precision
    a = np.array([[np.inf, 1.0]], dtype=np.float32)
    b = np.array([[0.0], [1.0]], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with precision.emulating("float16"):
            assert np.isnan(precision.matmul(a, b)).any()
        stored = {"logits": np.array([np.inf, 1.0]), "loss": np.array([1.0]),
                  "grad_inputs": np.array([np.inf]), "grads": {}, "trace": {}}
        assert compare_runs(stored, dict(stored), "float16") == []


def test_the_fixture_count_in_the_results():
    from collections import Counter

    from diffmem.harness.fixture_io import default_fixture_dir, read_manifest
    from diffmem.models import family_for
    entries = read_manifest(default_fixture_dir())["cases"]
    per = Counter(family_for(e["model"]).name for e in entries.values())
    line = (f"golden fixtures: {len(entries)} cases (NTM {per['ntm']}, stack/queue/deque "
            f"{per['stack']}, Stack-RNN {per['stackrnn']}, delta {per['delta']})")
    assert line in doc("docs/results.md"), line
    short = (f"catalogue of {len(entries)} small cases (NTM {per['ntm']}, stacks {per['stack']}, "
             f"Stack-RNN {per['stackrnn']}, delta {per['delta']})")
    assert short in doc("README.md"), short
    words = " ".join(doc("docs/harness.md").split())
    long = (f"catalogue of {len(entries)} small cases (NTM {per['ntm']}, stack / queue / deque "
            f"{per['stack']}, Stack-RNN {per['stackrnn']}, delta {per['delta']}")
    assert long in words, long
