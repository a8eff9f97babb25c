"""Heatmaps of one sequence (matplotlib, Agg): inputs, targets, outputs with the bit
errors marked, each write head's weights, adds and erases, each read head's weights and
the vector it read, and the memory after the last step.

Readable at every task size: a one-row panel (dynamic n-grams has one channel) gets one
tick and a colour bar with only its two ends; small axes get a tick per row; the figure
grows with the sequence up to a cap, beyond which the columns get narrower.
"""

import numpy as np

from .view import sigmoid

INCHES_PER_STEP = 0.22
MAX_WIDTH = 30.0          # inches; a T = 200 sequence still fits a screen when zoomed
INCHES_PER_ROW = 0.14
MIN_PANEL = 0.3           # inches: a one-row panel keeps room for its title and ticks


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


def _ticks(ax, rows, columns):
    from matplotlib.ticker import MaxNLocator
    if rows <= 8:   # every row labelled: no fractional or crowded ticks on small axes
        ax.set_yticks(range(rows))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(columns, 25)))
    ax.tick_params(labelsize=7)


def _colorbar(fig, im, ax, vmin, vmax):
    bar = fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    # Only the two ends: a short panel cannot hold more labels without overlap.
    bar.set_ticks([vmin, vmax], labels=[f"{vmin:.2g}", f"{vmax:.2g}"])
    bar.ax.tick_params(labelsize=6)
    return bar


def plot_sequence(path, cfg, example, title=""):
    """Draw one sequence (``evaluate``'s ``example``) into ``path`` (.png, .pdf, .svg)."""
    import matplotlib.pyplot as plt
    fig = make_figure(cfg, example, title)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def make_figure(cfg, example, title=""):
    """The matplotlib figure of one sequence: one axes per panel, then the memory."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels_of(cfg, example)
    memory = example["trace"]["memory"][-1]
    T = example["inputs"].shape[0]
    heights = [max(INCHES_PER_ROW * p[1].shape[0], MIN_PANEL) for p in panels]
    heights.append(max(INCHES_PER_ROW * memory.shape[0], MIN_PANEL))
    width = min(max(6.0, INCHES_PER_STEP * T + 3.0), MAX_WIDTH)
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
        _ticks(ax, values.shape[0], T)
        _colorbar(fig, im, ax, vmin, vmax)
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
    _ticks(ax, memory.shape[0], memory.shape[1])
    _colorbar(fig, im, ax, -lim, lim)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
