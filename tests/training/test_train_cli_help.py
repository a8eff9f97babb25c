"""The command line as a whole: --version, help texts, one name per concept, pretrained
models by name, and no BrokenPipeError when the reader goes away."""

import argparse
import os
import re
import subprocess
import sys

import pytest

from diffmem import __version__, pretrained
from diffmem.cli import build_parser, main
from diffmem.harness.fixture_io import FixtureError, case_names
from diffmem.models import family_named
from diffmem.training.modelfile import load_model

OWN_COMMANDS = ("train", "test", "pretrained", "pretrained-table", "fixtures")


def subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def all_parsers():
    """(name, parser) for every command and sub-command of ours."""
    top = subparsers(build_parser())
    out = []
    for name in OWN_COMMANDS:
        p = top.choices[name]
        out.append((name, p))
        nested = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        for action in nested:
            out += [(f"{name} {sub}", q) for sub, q in action.choices.items()]
    return out


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    from diffmem.models import families
    specs = ", ".join(sorted(f.spec_version for f in families().values()))
    assert re.match(rf"diffmem {re.escape(__version__)} \(specs {re.escape(specs)},",
                    capsys.readouterr().out)


@pytest.mark.parametrize("name, parser", all_parsers(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_and_flag_is_described(name, parser):
    assert parser.description, f"`diffmem {name}` has no description"
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"`diffmem {name}` {action.option_strings}: no help"
    text = parser.format_help()
    assert "(default: None)" not in text
    # A default is stated once: no "(default X) (default: Y)" pairs.
    assert not re.search(r"default[^()]*\)\s*\(default", text), text


def test_one_name_per_concept():
    top = subparsers(build_parser()).choices
    flags = {name: {s for a in p._actions for s in a.option_strings if a.help != argparse.SUPPRESS}
             for name, p in all_parsers()}
    assert "--batch-size" in flags["train"] and "--batch-size" in flags["test"]
    assert "--batch-size" in flags["pretrained table"] and "--batch" not in flags["test"]
    for action in ("generate", "verify", "list"):
        assert "--fixtures" in flags[f"fixtures {action}"]
        assert "--dir" not in flags[f"fixtures {action}"]
    assert "--fixtures" in {s for a in top["check"]._actions for s in a.option_strings}


def test_old_option_names_still_work(tmp_path, capsys):
    assert main(["fixtures", "list", "--dir", str(tmp_path / "none")]) == 2
    assert main(["fixtures", "list", "--fixtures", str(tmp_path / "none")]) == 2


def test_fixture_hints_name_the_folder_given(tmp_path):
    with pytest.raises(FixtureError) as missing:
        case_names(tmp_path / "elsewhere")
    message = str(missing.value)
    assert "--out" not in message
    assert f"--fixtures {tmp_path / 'elsewhere'}" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(FixtureError) as no_manifest:
        case_names(tmp_path / "empty")
    assert f"--fixtures {tmp_path / 'empty'}" in str(no_manifest.value)
    assert "git checkout" not in str(no_manifest.value)


def test_no_broken_pipe_when_the_reader_goes_away():
    read_end, write_end = os.pipe()
    os.close(read_end)   # like `| head -1` having exited: every write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "diffmem", "fixtures", "list"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 141


# ------------------------------------------------------------------ pretrained by name

def have_pretrained(task):
    return os.path.exists(pretrained.path(task))


def test_pretrained_list_shows_every_familys_models(capsys):
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    listed = pretrained.models()
    # Family by family, the NTM's five by task (each family's hook lists its own).
    assert [n for n, (fam, _) in listed.items() if fam == "ntm"] == \
        list(family_named("ntm").training.TASKS)
    assert {"queue_copy", "stack_reversal", "stackrnn_anbn"} <= set(listed)
    rows = re.findall(r"^pretrained:(\S+)\s", out, re.M)
    assert rows == list(listed), out   # one row each, "(unusable: ...)" if it is missing
    for name in ("queue_copy", "stackrnn_anbn"):
        if have_pretrained(name):
            line = next(x for x in out.splitlines() if x.startswith(f"pretrained:{name} "))
            model = load_model(pretrained.path(name))
            assert f"{model.header['training']['lo']}..{model.header['training']['hi']}" in line


@pytest.mark.skipif(not have_pretrained("copy"), reason="no pretrained copy model")
def test_test_takes_a_pretrained_name(capsys):
    assert main(["test", "--model", "pretrained:copy", "--lo", "2", "--hi", "2",
                 "--batch-size", "2", "--no-view"]) == 0
    assert "model copy" in capsys.readouterr().out


@pytest.mark.skipif(not have_pretrained("copy"), reason="no pretrained copy model")
def test_a_bare_task_name_gets_a_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["test", "--model", "copy", "--lo", "2", "--hi", "2"]) == 2
    assert "pretrained:copy" in capsys.readouterr().err


def test_train_all_writes_only_into_the_folder_given(tmp_path):
    script = os.path.join(os.path.dirname(pretrained.__file__), "train_all.sh")
    if not os.path.exists(script):
        pytest.skip("train_all.sh is not installed with the package (checkout only)")
    log = tmp_path / "calls.txt"
    fake = tmp_path / "fake-diffmem"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    out = tmp_path / "models"
    subprocess.run(["sh", script, str(out)], check=True, timeout=60,
                   env=dict(os.environ, DIFFMEM=str(fake)), cwd=str(tmp_path))
    calls = log.read_text().splitlines()
    assert len(calls) == 6
    written = [re.search(r"--(?:save-to|resume) (\S+)", c).group(1) for c in calls]
    assert all(os.path.dirname(w) == str(out) for w in written), written
    assert {os.path.basename(w) for w in written} == {f"{t}.npz" for t in family_named("ntm").training.TASKS}
    assert "/work/" not in open(script).read()


# ------------------------------------------------------------------ the README

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme():
    path = os.path.join(ROOT, "README.md")
    if not os.path.exists(path):
        pytest.skip("not run from a checkout")
    return open(path, encoding="utf-8").read()


def test_readme_is_a_front_door():
    text = readme()
    assert len(text.splitlines()) <= 300
    assert "<!-- sections -->" not in text
    for title in ("## GPU", "## Precision modes", "## Writing a kernel (Triton walkthrough)",
                  "## Case studies: pytorch-ntm, pytorch-dnc", "## Commands"):
        assert title in text, title
    for doc in ("reference", "harness", "backends", "training", "results"):
        assert f"(docs/{doc}.md" in text, doc
        assert os.path.exists(os.path.join(ROOT, "docs", f"{doc}.md")), doc


def test_readme_test_command_is_what_ci_runs():
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read().splitlines()[-1]
    assert ci.startswith("python3 -m venv .venv && ")
    assert ci in readme().splitlines()


def test_readme_commands_exist():
    """Every `diffmem WORD` the README shows is a command of this diffmem."""
    commands = set(subparsers(build_parser()).choices)
    text = readme()
    code = re.findall(r"```.*?```", text, re.S) + re.findall(r"`[^`\n]+`", text)
    used = {m for c in code for m in re.findall(r"(?:^|[`$ ])diffmem ([a-z][a-z-]*)", c, re.M)}
    assert used and used <= commands, used - commands


# ------------------------------------------------------------------ fixtures options

@pytest.mark.parametrize("argv, named", [
    (["fixtures", "generate", "--fixtures", "{file}", "--cases", "ntm-copy-ff-init"],
     "--fixtures"),
    (["fixtures", "verify", "--jobs", "-1"], "--jobs -1"),
    (["fixtures", "generate", "--jobs", "-2", "--fixtures", "{dir}"], "--jobs -2"),
    (["fixtures", "list", "--cases", "no-such-case*"], "--cases"),
])
def test_fixture_commands_refuse_bad_options_in_one_line(tmp_path, capsys, argv, named):
    (tmp_path / "a-file").write_text("")
    argv = [a.format(file=tmp_path / "a-file", dir=tmp_path / "out") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"diffmem fixtures {argv[1]}: "), err
    assert named in err[0]
    assert not (tmp_path / "out").exists()


def test_pretrained_table_bad_folder_in_one_line(tmp_path, capsys):
    assert main(["pretrained", "table", "--folder", str(tmp_path / "none")]) == 2
    (tmp_path / "copy.npz").write_text("not a model")
    assert main(["pretrained-table", "--folder", str(tmp_path), "--batch", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such folder" in err[0] and "copy.npz" in err[1], err
