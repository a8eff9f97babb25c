"""Outputs of train and test: only regular files replaced, a full disk is one line and
keeps what was saved, an interrupt during the first JAX compile exits cleanly, and
`test` takes its --lo/--hi from the model file."""

import errno
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from diffmem.cli import main


def test_train_never_replaces_a_device_node(capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    before = os.stat("/dev/full")
    assert main(["train", "--task", "copy", "--steps", "1", "--save-to", "/dev/full",
                 "--overwrite"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("diffmem train: --save-to /dev/full: is not a regular file (a device, "
                   "pipe or socket); expected a file name")
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


@pytest.mark.parametrize("argv", [["--report", "{tmp}/missing/r.json"],
                                  ["--report", "{tmp}"]])
def test_check_refuses_a_report_path_before_any_work(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(["check", "--backend", "reference", "--no-progress", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--report" in err, err
    assert not (tmp_path / "missing").exists()   # no folder made behind the user's back


def test_a_full_disk_keeps_the_model_saved_before(tmp_path, monkeypatch):
    from diffmem.pretrained import resolve
    from diffmem.training import modelfile
    model = modelfile.load_model(resolve("pretrained:copy"))
    path = tmp_path / "m.npz"
    modelfile.save_model(path, model.header, model.params)
    saved = path.read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(np, "savez_compressed", full)
    with pytest.raises(modelfile.ModelSaveError, match="No space left on device"):
        modelfile.save_model(path, model.header, model.params)
    assert path.read_bytes() == saved
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]   # no temporary file left


def test_test_reads_its_range_from_the_model_file(capsys):
    from diffmem.pretrained import resolve
    from diffmem.training.modelfile import load_model
    trained = load_model(resolve("pretrained:copy")).header["training"]
    assert main(["test", "--model", "pretrained:copy", "--batch-size", "2", "--no-view"]) == 0
    assert f"test lengths {trained['lo']}..{trained['hi']}" in capsys.readouterr().out


def test_an_interrupt_during_the_first_compile_exits_cleanly(tmp_path):
    pytest.importorskip("jax")
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffmem", "train", "--task", "sequence_reversal", "--steps",
         "50", "--save-to", str(tmp_path / "m.npz"), "--no-progress"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "cache")})
    for line in proc.stderr:   # printed just before the first step (and its compile)
        if "starting at step 0" in line:
            break
    time.sleep(1)   # into the first step: its compile takes seconds with an empty cache
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err)
    assert "interrupted at step 1; saved" in out + err   # the step in flight finished
