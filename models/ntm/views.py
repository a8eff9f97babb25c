"""The NTM's views of one sequence: what went in, what came out, and the memory access.

As text (``text_view``): blocks, each a titled grid with time flowing left to right, of
the inputs, targets, outputs (sigmoid of the logits), then per write head its weights
over the N locations, its adds and erases over the M memory columns, then per read head
its weights and the vector it read.  As a picture (``picture``): the same as heatmaps,
the bit errors marked, and the memory after the last step.  All of it comes from one
sequence's NTM.md trace; the grids and plot helpers are the generic ones training hands
in (``diffmem.training.view``, ``diffmem.training.plot``).
"""

import numpy as np


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def blocks_of(cfg, inputs, targets, logits, trace, mask=None):
    """[(title, row label, values [rows, T])] of one sequence, in display order."""
    outputs = sigmoid(logits)
    if mask is not None:  # outputs are only meaningful where an answer is expected
        outputs = outputs * (np.asarray(mask)[:, None] > 0)
    blocks = [("inputs (channel x time)", "x", np.asarray(inputs).T),
              ("targets", "y", np.asarray(targets).T),
              ("outputs (sigmoid of logits, masked steps only)", "y", outputs.T)]
    for h in range(cfg.Wh):
        blocks += [(f"write head {h}: weights (location x time)", "loc",
                    trace["write.weight"][:, h].T),
                   (f"write head {h}: adds (memory column x time)", "col",
                    trace["write.add"][:, h].T),
                   (f"write head {h}: erases (memory column x time)", "col",
                    trace["write.erase"][:, h].T)]
    for h in range(cfg.R):
        blocks += [(f"read head {h}: weights (location x time)", "loc",
                    trace["read.weight"][:, h].T),
                   (f"read head {h}: vector read (memory column x time)", "col",
                    trace["reads"][:, h].T)]
    return blocks


def text_view(cfg, run, view):
    """The view of one sequence (``run``: unbatched arrays, inputs [T, X], trace name ->
    [T, ...]) drawn with ``view``'s grids (``diffmem.training.view``)."""
    blocks = blocks_of(cfg, run["inputs"], run["targets"], run["logits"], run["trace"],
                       run["mask"])
    return view.windowed(np.asarray(run["inputs"]).shape[0], lambda start, stop: [
        view.grid(title, label, values[:, start:stop], start)
        for title, label, values in blocks])


def bit_error_cells(example):
    """(steps, channels) of the masked cells where the output rounds to the wrong bit."""
    outputs = sigmoid(example["logits"])
    wrong = (outputs > 0.5) != (np.asarray(example["targets"]) > 0.5)
    wrong &= np.asarray(example["mask"])[:, None] > 0
    return np.nonzero(wrong)


def panels_of(cfg, example):
    """[(title, values [rows, T], y label, (vmin, vmax), colour map)] in display order."""
    trace = example["trace"]
    outputs = sigmoid(example["logits"]) * (example["mask"][:, None] > 0)
    steps, channels = bit_error_cells(example)
    marked = f", {len(steps)} bit error{'s' if len(steps) != 1 else ''} marked x" \
        if len(steps) else ", no bit errors"
    inputs = np.asarray(example["inputs"])
    # Bits are black on white; signed inputs (priority sort's priorities in (-1, 1)) need a
    # scale that shows their sign.
    lim = max(1.0, float(np.max(np.abs(inputs))))
    shown = ("inputs", inputs.T, "channel", (0, 1), "gray_r") if inputs.min() >= 0 else \
        ("inputs (signed)", inputs.T, "channel", (-lim, lim), "PuOr_r")
    panels = [shown,
              ("targets", example["targets"].T, "channel", (0, 1), "gray_r"),
              (f"outputs (masked steps{marked})", outputs.T, "channel", (0, 1), "gray_r")]
    for h in range(cfg.Wh):
        panels += [(f"write head {h} weights", trace["write.weight"][:, h].T, "location",
                    (0, 1), "viridis"),
                   (f"write head {h} adds", trace["write.add"][:, h].T, "column",
                    (-1, 1), "RdBu_r"),
                   (f"write head {h} erases", trace["write.erase"][:, h].T, "column",
                    (0, 1), "Oranges")]
    for h in range(cfg.R):
        reads = trace["reads"][:, h].T
        lim = float(np.max(np.abs(reads))) or 1.0
        panels += [(f"read head {h} weights", trace["read.weight"][:, h].T, "location",
                    (0, 1), "viridis"),
                   (f"read head {h} vector read", reads, "column", (-lim, lim), "RdBu_r")]
    return panels


def picture(cfg, example, path, title, plot):
    """Draw one sequence (``evaluate``'s ``example``) into ``path`` (.png, .pdf, .svg)."""
    import matplotlib.pyplot as plt
    fig = make_figure(cfg, example, title, plot)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def make_figure(cfg, example, title, plot):
    """The matplotlib figure of one sequence: one axes per panel, then the memory."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels_of(cfg, example)
    memory = example["trace"]["memory"][-1]
    T = example["inputs"].shape[0]
    heights = [max(plot.INCHES_PER_ROW * p[1].shape[0], plot.MIN_PANEL) for p in panels]
    heights.append(max(plot.INCHES_PER_ROW * memory.shape[0], plot.MIN_PANEL))
    width = min(max(6.0, plot.INCHES_PER_STEP * T + 3.0), plot.MAX_WIDTH)
    # Constrained layout spaces titles, tick labels and colour bars without overlaps.
    fig = plt.figure(figsize=(width, sum(heights) + 0.45 * len(heights) + 0.6),
                     layout="constrained")
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
    for i, (name, values, ylabel, (vmin, vmax), cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[i])
        im = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap,
                       vmin=vmin, vmax=vmax)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_ylabel(ylabel, fontsize=7)
        plot.ticks(ax, values.shape[0], T)
        plot.colorbar(fig, im, ax, vmin, vmax)
        if name.startswith("outputs"):
            steps, channels = bit_error_cells(example)
            ax.scatter(steps, channels, marker="x", color="red", s=28, linewidths=1.2)
    ax.set_xlabel("time step", fontsize=8)
    ax = fig.add_subplot(grid[-1])
    lim = float(np.max(np.abs(memory))) or 1.0
    im = ax.imshow(memory, aspect="auto", interpolation="nearest", cmap="RdBu_r",
                   vmin=-lim, vmax=lim)
    ax.set_title("memory after the last step (location x column)", fontsize=9, loc="left")
    ax.set_ylabel("location", fontsize=7)
    ax.set_xlabel("column", fontsize=8)
    plot.ticks(ax, memory.shape[0], memory.shape[1])
    plot.colorbar(fig, im, ax, -lim, lim)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
