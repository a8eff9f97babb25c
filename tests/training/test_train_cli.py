"""``diffmem train`` and ``diffmem test`` from the command line on tiny models: the text
view's layout and rounding, the plot, --grad-check, and Ctrl-C saving the latest state."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from diffmem.cli import main
from diffmem.models.ntm.reference import NTMConfig, init_params, run_sequence
from diffmem.models.ntm.tasks import make_batch, task_sizes
from diffmem.training.modelfile import load_model, save_model

WIDTH = 2


@pytest.fixture
def tiny_model(tmp_path):
    X, Y = task_sizes("copy", width=WIDTH)
    cfg = NTMConfig(input_size=X, output_size=Y, controller_size=6, memory_rows=5,
                    memory_width=3)
    path = str(tmp_path / "tiny.npz")
    header = {"config": cfg.to_dict(), "task": {"name": "copy", "options": {"width": WIDTH}},
              "training": {"lo": 1, "hi": 2, "command": "by hand"}, "steps": 0,
              "sequences": 0, "metrics": {}}
    save_model(path, header, init_params(cfg, 11))
    return path, cfg


def blocks(text):
    """Title -> list of rows (label, [cell strings]) of the text view."""
    out = {}
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        rows = [line.split("|") for line in lines[2:]]
        out[lines[0]] = [(label.strip(), cells.split()) for label, cells in rows]
    return out


def test_text_view_layout_and_rounding(tiny_model, capsys):
    path, cfg = tiny_model
    assert main(["test", "--model", path, "--lo", "3", "--hi", "3", "--batch", "2",
                 "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"bits/seq [0-9.]+, bit errors/seq [0-9.]+", out)
    view = blocks(out.split("first sequence:")[1])
    # The same first sequence, regenerated, and its reference run (independent of the view).
    x, z, m, lengths = make_batch("copy", np.random.default_rng(4), 2, 3, 3, width=WIDTH)
    T = int(lengths[0])
    assert T == 2 * 3 + 2
    run = run_sequence(cfg, load_model(path).params, x[0, :T], z[0, :T], m[0, :T],
                       want_grads=False)
    expected_rows = {"inputs": cfg.X, "targets": cfg.Y, "outputs": cfg.Y,
                     "write head 0: weights": cfg.N, "write head 0: adds": cfg.M,
                     "write head 0: erases": cfg.M, "read head 0: weights": cfg.N}
    for prefix, rows in expected_rows.items():
        title = [t for t in view if t.startswith(prefix)]
        assert len(title) == 1, (prefix, list(view))
        grid = view[title[0]]
        assert len(grid) == rows, (prefix, len(grid))
        assert all(len(cells) == T for _, cells in grid), prefix
        assert all(re.fullmatch(r"-?\d+\.\d", c) for _, cells in grid for c in cells), prefix
    # Values: time left to right, one row per location, rounded to one decimal.
    weights = np.array([[float(c) for c in cells] for _, cells in
                        view["write head 0: weights (location x time)"]])
    np.testing.assert_allclose(weights, run["trace"]["write.weight"][:, 0].T, atol=0.05 + 1e-9)
    inputs = np.array([[float(c) for c in cells] for _, cells in view["inputs (channel x time)"]])
    np.testing.assert_array_equal(inputs, x[0, :T].T)


def test_plot_writes_a_png(tiny_model, tmp_path, capsys):
    path, _ = tiny_model
    png = str(tmp_path / "view.png")
    assert main(["test", "--model", path, "--lo", "2", "--hi", "2", "--batch", "1",
                 "--no-view", "--plot", png]) == 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) > 5000


def test_grad_check_agrees(tmp_path, capsys):
    save = str(tmp_path / "g.npz")
    assert main(["train", "--task", "copy", "--width", "2", "--N", "5", "--M", "3",
                 "--units", "6", "--lo", "1", "--hi", "2", "--steps", "2", "--batch-size", "3",
                 "--backend", "torch", "--grad-check", "--no-progress", "--save-to", save]) == 0
    out = capsys.readouterr().out
    errors = [float(e) for e in re.findall(r"worst relative error (\S+)", out)]
    assert errors and max(errors) < 1e-4, out
    assert load_model(save).header["steps"] == 2


def test_ctrl_c_saves_the_latest_state_and_resumes_exactly(tmp_path):
    save = tmp_path / "interrupted.npz"
    flags = ["--task", "copy", "--width", "2", "--N", "5", "--M", "3", "--units", "6",
             "--hi", "2", "--batch-size", "8", "--backend", "torch", "--no-progress"]
    # No periodic saves: the signal then lands inside a step (batch drawn, gradients in
    # flight), the case where saving the advanced data generator broke exact resume.
    cmd = [sys.executable, "-m", "diffmem", "train", *flags, "--steps", "1000000",
           "--save-every", "0", "--save-to", str(save)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=str(tmp_path))
    try:
        started = proc.stdout.readline()   # "task copy ... starting at step 0 ..."
        assert "starting at step 0" in started, started
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    header = load_model(str(save)).header
    steps = header["steps"]
    assert header["stopped"] == f"interrupted at step {steps}"
    assert f"interrupted at step {steps}; saved" in out
    assert "diffmem train --task copy" in header["training"]["command"]
    # The interrupt fell inside a step (its batch drawn); resuming redraws that batch, so
    # the run continues as if it had never stopped.
    straight = str(tmp_path / "straight.npz")
    assert main(["train", *flags, "--steps", str(steps + 2), "--save-to", straight]) == 0
    assert main(["train", "--resume", str(save), "--steps", str(steps + 2),
                 "--no-progress"]) == 0
    a, b = load_model(straight), load_model(str(save))
    assert b.header["steps"] == a.header["steps"] == steps + 2
    for k in a.params:
        np.testing.assert_allclose(b.params[k], a.params[k], rtol=0, atol=1e-12, err_msg=k)


def test_pretrained_table_rows(tiny_model, tmp_path, capsys):
    path, _ = tiny_model
    os.rename(path, tmp_path / "copy.npz")
    assert main(["pretrained", "table", "--folder", str(tmp_path), "--batch-size", "4"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| copy")]
    # Training range 1..2, then beyond it (3..4), then exactly twice the longest (4..4).
    assert [r.split("|")[5].strip() for r in rows] == ["1..2", "3..4", "4..4"]
    assert rows[-1].rstrip(" |").endswith(("yes", "no"))


def test_pretrained_models_record_their_commands():
    from diffmem import pretrained
    for name, (_, path) in pretrained.models().items():
        if not os.path.exists(path):
            pytest.skip(f"no pretrained {name} model yet")
        model = load_model(path)
        task = model.task["name"]
        assert task == name or name.endswith(task.split("_")[-1]), (name, task)
        commands = model.header["training"]["commands"]  # the first run, then any resumes
        assert commands[0].startswith(f"diffmem train --task {task} ")
        assert model.header["training"]["command"] == commands[-1]


def test_pretrained_table_has_the_other_families_rows(tmp_path, capsys):
    """Each family's hook lists its pretrained models; the table tests the stack families'
    on their training range and beyond it, with their own metrics."""
    from diffmem.models.stack.config import StackConfig
    from diffmem.models.stack.params import init_params
    cfg = StackConfig(input_size=4, output_size=3, controller_size=3, value_size=2,
                      controller="lstm", loss="softmax", model="queue")
    save_model(tmp_path / "queue_copy.npz",
               {"config": cfg.to_dict(), "task": {"name": "sequence_copy",
                                                  "options": {"alphabet": 2}},
                "training": {"lo": 1, "hi": 2, "command": "by hand"}, "steps": 0,
                "sequences": 0, "metrics": {}}, init_params(cfg, 0))
    assert main(["pretrained", "table", "--folder", str(tmp_path), "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "| model | task | sizes | trained (steps, sequences) | training range | test range " \
           "| bits/seq | coarse accuracy | fine accuracy |" in out
    rows = [line for line in out.splitlines() if line.startswith("| queue_copy |")]
    assert [r.split("|")[6].strip() for r in rows] == ["1..2", "3..4"]
    assert "| stack_reversal | (no model file) |" in out and "| stackrnn_anbn | (no model " \
        "file) |" in out
    assert "| copy | (no model file) |" in out
