"""The text view and the picture at small and large task sizes: short lines at T = 100,
every block present, panels for erases and read vectors, bit errors marked, ticks that a
reader can read."""

import re

import numpy as np
import pytest

from diffmem.cli import main
from diffmem.models.ntm.reference import NTMConfig, init_params, run_sequence
from diffmem.models.ntm.tasks import make_batch, task_sizes
from diffmem.training.modelfile import save_model
from diffmem.models.ntm import views
from diffmem.training import plot, view as grids


def sequence(task, options, knob, N=5, M=3, seed=2):
    X, Y = task_sizes(task, **options)
    cfg = NTMConfig(input_size=X, output_size=Y, controller_size=6, memory_rows=N,
                    memory_width=M)
    params = init_params(cfg, seed)
    x, z, m, lengths = make_batch(task, np.random.default_rng(seed), 1, knob, knob, **options)
    T = int(lengths[0])
    run = run_sequence(cfg, params, x[0, :T], z[0, :T], m[0, :T], want_grads=False)
    example = {"inputs": x[0, :T], "targets": z[0, :T], "mask": m[0, :T],
               "logits": run["logits"], "trace": run["trace"]}
    return cfg, params, example


def test_text_view_at_t100_has_short_lines_and_every_step():
    cfg, _, ex = sequence("dynamic_ngrams", {"order": 3}, 100)
    view = views.text_view(cfg, ex, grids)
    assert max(len(line) for line in view.splitlines()) <= 120
    # Every step's input appears once, in order, across the windows.
    rows = [line.split("|")[1].split() for line in view.splitlines()
            if line.strip().startswith("x0 |")]
    shown = np.array([float(c) for row in rows for c in row])
    np.testing.assert_array_equal(shown, ex["inputs"][:, 0])
    headers = re.findall(r"== steps (\d+)\.\.(\d+) of 100 ==", view)
    assert headers[0] == ("0", "19") and headers[-1] == ("80", "99")


def test_text_view_has_erases_and_read_vectors():
    cfg, _, ex = sequence("copy", {"width": 2}, 2)
    view = views.text_view(cfg, ex, grids)
    assert "write head 0: erases" in view
    block = view.split("read head 0: vector read (memory column x time)\n")[1]
    first_row = block.splitlines()[1].split("|")[1].split()
    np.testing.assert_allclose([float(c) for c in first_row], ex["trace"]["reads"][:, 0, 0],
                               atol=0.05 + 1e-9)


@pytest.fixture(params=[("dynamic_ngrams", {"order": 3}, 100, 6, 3),
                        ("copy", {"width": 2}, 2, 3, 2)], ids=["T100-one-channel", "small"])
def figure(request):
    pytest.importorskip("matplotlib")
    task, options, knob, N, M = request.param
    cfg, _, ex = sequence(task, options, knob, N=N, M=M)
    fig = views.make_figure(cfg, ex, "t", plot)
    yield fig, ex, views.bit_error_cells(ex)
    import matplotlib.pyplot as plt
    plt.close(fig)


def panels(fig):
    """The heatmap axes (not colour bars), by title."""
    return {ax.get_title(loc="left"): ax for ax in fig.axes if ax.get_title(loc="left")}


def test_plot_has_erase_and_read_panels(figure):
    fig, _, _ = figure
    titles = list(panels(fig))
    for wanted in ("inputs", "targets", "outputs", "write head 0 weights", "write head 0 adds",
                   "write head 0 erases", "read head 0 weights", "read head 0 vector read",
                   "memory after the last step"):
        assert any(t.startswith(wanted) for t in titles), (wanted, titles)


def test_plot_marks_each_bit_error(figure):
    fig, ex, (steps, channels) = figure
    outputs = [ax for t, ax in panels(fig).items() if t.startswith("outputs")][0]
    # Independently: masked cells where sigmoid(logit) > 0.5 disagrees with the target.
    p = 1 / (1 + np.exp(-ex["logits"]))
    wrong = np.argwhere(((p > 0.5) != (ex["targets"] > 0.5)) & (ex["mask"][:, None] > 0))
    marks = np.concatenate([c.get_offsets() for c in outputs.collections]) \
        if outputs.collections else np.zeros((0, 2))
    assert sorted(map(tuple, marks.astype(int))) == sorted(map(tuple, wrong))
    assert f"{len(wrong)} bit error" in outputs.get_title(loc="left") or \
        (len(wrong) == 0 and "no bit errors" in outputs.get_title(loc="left"))


def test_plot_ticks_are_integers_and_sparse(figure):
    fig, _, _ = figure
    fig.canvas.draw()
    for title, ax in panels(fig).items():
        rows = ax.get_images()[0].get_array().shape[0]
        ticks = [t for t in ax.get_yticks() if -0.5 <= t <= rows - 0.5]
        assert all(float(t).is_integer() for t in ticks), (title, ticks)
        if rows == 1:
            assert ticks == [0], (title, ticks)
        xticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert all(float(t).is_integer() for t in xticks), (title, xticks)
    # Colour bars carry their two ends only, so a one-row panel's labels cannot overlap.
    for ax in fig.axes:
        if not ax.get_title(loc="left"):
            assert len(ax.get_yticks()) <= 2, ax.get_yticks()


def test_item_tasks_say_items(tmp_path, capsys):
    options = {"width": 2, "item_len": 1}
    X, Y = task_sizes("associative_recall", **options)
    cfg = NTMConfig(input_size=X, output_size=Y, controller_size=6, memory_rows=5,
                    memory_width=3)
    path = str(tmp_path / "ar.npz")
    save_model(path, {"config": cfg.to_dict(), "task": {"name": "associative_recall",
                                                         "options": options},
                      "training": {"lo": 2, "hi": 3, "command": "by hand"}, "steps": 0,
                      "sequences": 0, "metrics": {}}, init_params(cfg, 1))
    assert main(["test", "--model", path, "--lo", "2", "--hi", "3", "--batch-size", "2",
                 "--no-view"]) == 0
    out = capsys.readouterr().out
    assert "trained 0 steps on items 2..3" in out and "test items 2..3" in out
    assert "lengths" not in out
