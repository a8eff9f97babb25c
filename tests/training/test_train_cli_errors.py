"""A user's mistakes on ``diffmem train`` and ``diffmem test``: one line naming the flag,
exit status 2, before any work; and work already done is never lost."""

import os

import numpy as np
import pytest

from diffmem.cli import main
from diffmem.models.ntm.reference import NTMConfig, init_params
from diffmem.models.ntm.tasks import task_sizes
from diffmem.training.loop import Trainer
from diffmem.training.modelfile import load_model, save_model

TINY = ["--width", "2", "--N", "5", "--M", "3", "--units", "6", "--hi", "2",
        "--batch-size", "2", "--backend", "torch", "--no-progress"]


def tiny_model(path, task="copy", options=None, lo=1, hi=2):
    options = {"width": 2} if options is None else options
    X, Y = task_sizes(task, **options)
    cfg = NTMConfig(input_size=X, output_size=Y, controller_size=6, memory_rows=5,
                    memory_width=3)
    header = {"config": cfg.to_dict(), "task": {"name": task, "options": options},
              "training": {"lo": lo, "hi": hi, "command": "by hand"}, "steps": 0,
              "sequences": 0, "metrics": {}}
    save_model(str(path), header, init_params(cfg, 11))
    return str(path)


def one_line_error(capsys, argv, command):
    """Run argv; it must fail with status 2 and exactly one stderr line."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"diffmem {command}: "), err
    for internal in ("NTMConfig", "memory_rows", "batch_size", "pickle", "Traceback"):
        assert internal not in err[0], err
    return err[0]


@pytest.mark.parametrize("flags, named", [
    (["--N", "0"], "--N 0"),
    (["--M", "-1"], "--M -1"),
    (["--units", "0"], "--units 0"),
    (["--read-heads", "0"], "--read-heads 0"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--steps", "-5"], "--steps -5"),
    (["--steps", "0"], "--steps 0"),
    (["--sequences", "0"], "--sequences 0"),
    (["--lo", "10", "--hi", "2"], "--hi 2"),
    (["--lr", "0"], "--lr 0"),
    (["--lr", "nan"], "--lr nan"),
    (["--clip", "-1"], "--clip -1"),
    (["--save-every", "-1"], "--save-every -1"),
    (["--width", "0"], "--width 0"),
    (["--option", "nonsense"], "--option"),
    (["--option", "colour=3"], "--option"),
])
def test_train_bad_flags(tmp_path, capsys, flags, named):
    save = tmp_path / "m.npz"
    line = one_line_error(capsys, ["train", "--task", "copy", *TINY, *flags,
                                   "--save-to", str(save)], "train")
    assert named in line
    assert not save.exists()


def test_train_knob_out_of_the_task_range(tmp_path, capsys):
    # Associative recall needs at least 2 items: the message names --lo, not n_items alone.
    line = one_line_error(capsys, ["train", "--task", "associative_recall", "--lo", "1",
                                   "--save-to", str(tmp_path / "m.npz")], "train")
    assert "--lo 1" in line and "associative_recall" in line


def test_train_output_folder_checked_before_training(tmp_path, capsys):
    line = one_line_error(capsys, ["train", "--task", "copy", *TINY, "--steps", "2",
                                   "--save-to", str(tmp_path / "no_such_dir" / "x.npz")],
                          "train")
    assert "--save-to" in line and "does not exist" in line
    line = one_line_error(capsys, ["train", "--task", "copy", *TINY, "--steps", "2",
                                   "--save-to", str(tmp_path)], "train")
    assert "is a folder" in line


def test_train_needs_a_task(capsys):
    assert "--task" in one_line_error(capsys, ["train"], "train")


def test_new_run_does_not_overwrite_a_model(tmp_path, capsys):
    save = tiny_model(tmp_path / "kept.npz")
    before = open(save, "rb").read()
    line = one_line_error(capsys, ["train", "--task", "copy", *TINY, "--steps", "1",
                                   "--save-to", save], "train")
    assert "--overwrite" in line and "--resume" in line
    assert open(save, "rb").read() == before
    assert main(["train", "--task", "copy", *TINY, "--steps", "1", "--save-to", save,
                 "--overwrite"]) == 0
    assert load_model(save).header["steps"] == 1


def bad_model_files(tmp_path):
    good = tiny_model(tmp_path / "good.npz")
    data = open(good, "rb").read()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.npz").write_text("this is not a model\n")
    (tmp_path / "empty.npz").write_bytes(b"")
    from diffmem.harness.fixture_io import case_path
    return {"missing": (str(tmp_path / "none.npz"), "no such file"),
            "truncated": (str(tmp_path / "cut.npz"), "truncated"),
            "text": (str(tmp_path / "text.npz"), "not a .npz model file"),
            "empty": (str(tmp_path / "empty.npz"), "is empty"),
            "fixture": (str(case_path("ntm-copy-ff-init")), "fixture"),
            "folder": (str(tmp_path), "folder")}


@pytest.mark.parametrize("kind", ["missing", "truncated", "text", "empty", "fixture",
                                  "folder"])
def test_test_bad_model_file(tmp_path, capsys, kind):
    path, words = bad_model_files(tmp_path)[kind]
    line = one_line_error(capsys, ["test", "--model", path, "--lo", "1", "--hi", "2"], "test")
    assert f"--model {path}" in line and words in line


@pytest.mark.parametrize("kind", ["missing", "text", "fixture"])
def test_resume_bad_model_file(tmp_path, capsys, kind):
    path, words = bad_model_files(tmp_path)[kind]
    line = one_line_error(capsys, ["train", "--resume", path, "--save-to",
                                   str(tmp_path / "out.npz")], "train")
    assert f"--resume {path}" in line and words in line


@pytest.mark.parametrize("flags, named", [
    (["--lo", "10", "--hi", "2"], "--hi 2"),
    (["--lo", "0", "--hi", "2"], "--lo 0"),
    (["--lo", "1", "--hi", "2", "--batch-size", "0"], "--batch-size 0"),
    (["--lo", "1", "--hi", "2", "--batch", "0"], "--batch-size 0"),
    (["--lo", "1", "--hi", "2", "--plot", "picture.txt"], "--plot picture.txt"),
])
def test_test_bad_flags(tmp_path, capsys, flags, named):
    model = tiny_model(tmp_path / "m.npz")
    assert named in one_line_error(capsys, ["test", "--model", model, *flags], "test")


def test_test_plot_folder_checked_before_the_run(tmp_path, capsys):
    model = tiny_model(tmp_path / "m.npz")
    line = one_line_error(capsys, ["test", "--model", model, "--lo", "1", "--hi", "2",
                                   "--plot", str(tmp_path / "nope" / "p.png")], "test")
    assert "--plot" in line and "does not exist" in line
    assert "bits/seq" not in capsys.readouterr().out


def test_test_knob_out_of_the_task_range(tmp_path, capsys):
    model = tiny_model(tmp_path / "ar.npz", "associative_recall", {"width": 2, "item_len": 1},
                       lo=2, hi=3)
    line = one_line_error(capsys, ["test", "--model", model, "--lo", "1", "--hi", "3"], "test")
    assert "--lo 1" in line and "associative_recall" in line


# ------------------------------------------------------------------ no lost work

def settings(tmp_path, **changes):
    s = {"task": "copy", "options": {"width": 2}, "N": 5, "M": 3, "controller": "feedforward",
         "units": 6, "read_heads": 1, "write_heads": 1, "lo": 1, "hi": 3, "curriculum": None,
         "optimizer": "adam", "lr": 1e-2, "lr_halve_every": None, "clip": 10.0,
         "backend": "torch", "dtype": None, "batch_size": 4, "seed": 5, "steps": 6,
         "sequences": 0, "save_every": 0, "log_every": 0, "view": False, "grad_check": False,
         "save_to": str(tmp_path / "run.npz"), "command": "test"}
    s.update(changes)
    return s


class FailingEngine:
    """Wraps an engine; raises ``error`` on call number ``at`` (1-based)."""

    def __init__(self, engine, at, error):
        self.engine, self.at, self.error, self.calls = engine, at, error, 0
        self.name, self.dtype_name = engine.name, engine.dtype_name

    def loss_and_grads(self, *args):
        self.calls += 1
        if self.calls == self.at:
            raise self.error
        return self.engine.loss_and_grads(*args)


def test_an_error_during_training_saves_the_work_done(tmp_path):
    lines = []
    trainer = Trainer(settings(tmp_path), out=lines.append)
    trainer.engine = FailingEngine(trainer.engine, 4, RuntimeError("device lost"))
    with pytest.raises(RuntimeError, match="device lost"):
        trainer.run(progress=False)
    saved = load_model(settings(tmp_path)["save_to"])
    assert saved.header["steps"] == 3
    assert saved.header["stopped"].startswith("failed at step 4")
    assert any("saved the state after step 3" in line for line in lines), lines
    for k, v in trainer.params.items():
        np.testing.assert_array_equal(saved.params[k], v)


def test_saves_at_intervals_by_default(tmp_path):
    save = str(tmp_path / "m.npz")
    assert main(["train", "--task", "copy", *TINY, "--steps", "1", "--save-to", save]) == 0
    assert load_model(save).header["training"]["save_every"] >= 1


# ------------------------------------------------------------------ resume

def test_resume_after_an_interrupt_is_exact(tmp_path):
    straight = Trainer(settings(tmp_path, save_to=str(tmp_path / "a.npz")), out=lambda *_: None)
    straight.run(progress=False)
    stopped = Trainer(settings(tmp_path, save_to=str(tmp_path / "b.npz")), out=lambda *_: None)
    # Ctrl-C lands in the middle of step 4, after its batch was drawn.
    stopped.engine = FailingEngine(stopped.engine, 4, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        stopped.run(progress=False)
    assert load_model(str(tmp_path / "b.npz")).header["steps"] == 3
    resumed = Trainer(dict(settings(tmp_path, save_to=str(tmp_path / "b.npz")), task=None),
                      resume=str(tmp_path / "b.npz"), out=lambda *_: None)
    resumed.run(progress=False)
    a, b = load_model(str(tmp_path / "a.npz")), load_model(str(tmp_path / "b.npz"))
    assert b.header["steps"] == 6 and b.header["sequences"] == a.header["sequences"]
    for k in a.params:
        np.testing.assert_array_equal(b.params[k], a.params[k], err_msg=k)
    assert b.header["rng_state"] == a.header["rng_state"]


@pytest.fixture
def trained(tmp_path):
    save = str(tmp_path / "t.npz")
    assert main(["train", "--task", "copy", *TINY, "--steps", "2", "--seed", "3",
                 "--save-to", save]) == 0
    return save


@pytest.mark.parametrize("flags, named", [
    (["--task", "repeat_copy"], "--task repeat_copy"),
    (["--N", "64"], "--N 64"),
    (["--width", "8"], "--width 8"),
    (["--controller", "lstm"], "--controller lstm"),
    (["--option", "width=3"], "--width 3"),
])
def test_resume_refuses_a_different_model(trained, capsys, flags, named):
    before = open(trained, "rb").read()
    line = one_line_error(capsys, ["train", "--resume", trained, "--steps", "4", *flags],
                          "train")
    assert named in line and "saved" in line
    assert open(trained, "rb").read() == before


def test_resume_run_settings_need_override(trained, capsys):
    line = one_line_error(capsys, ["train", "--resume", trained, "--steps", "3", "--seed", "9",
                                   "--optimizer", "adam"], "train")
    assert "--seed 9" in line and "--optimizer adam" in line and "--override-saved" in line
    capsys.readouterr()
    assert main(["train", "--resume", trained, "--steps", "3", "--seed", "9",
                 "--override-saved", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "warning: --seed 9 replaces the saved 3" in err
    header = load_model(trained).header
    assert header["steps"] == 3 and header["training"]["seed"] == 9


def test_override_without_resume_is_refused(tmp_path, capsys):
    assert "--override-saved" in one_line_error(
        capsys, ["train", "--task", "copy", "--override-saved",
                 "--save-to", str(tmp_path / "m.npz")], "train")


@pytest.mark.parametrize("steps", [[], ["--steps", "2"], ["--steps", "1"]])
def test_resume_at_or_past_the_budget_is_a_no_op(trained, capsys, steps):
    before = open(trained, "rb").read()
    assert main(["train", "--resume", trained, *steps]) == 0
    err = capsys.readouterr().err
    assert "already trained 2 steps" in err and "unchanged" in err
    assert open(trained, "rb").read() == before


def test_resume_of_a_pretrained_model_needs_save_to(capsys):
    assert "--save-to" in one_line_error(
        capsys, ["train", "--resume", "pretrained:copy", "--steps", "7000"], "train")


def test_a_signal_during_a_commit_waits_for_its_end():
    import signal
    from diffmem.training.loop import deferred_interrupts
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            signal.raise_signal(signal.SIGINT)   # arrives mid-commit
            done.append("rest of the commit")
    assert done == ["rest of the commit"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resume_into_another_existing_file_needs_overwrite(trained, tmp_path, capsys):
    other = tiny_model(tmp_path / "other.npz")
    before = open(other, "rb").read()
    line = one_line_error(capsys, ["train", "--resume", trained, "--steps", "3",
                                   "--save-to", other], "train")
    assert "--save-to" in line and "--overwrite" in line
    assert open(other, "rb").read() == before
    assert main(["train", "--resume", trained, "--steps", "3", "--save-to", other,
                 "--overwrite", "--no-progress"]) == 0
    assert load_model(other).header["steps"] == 3
    assert load_model(trained).header["steps"] == 2
