"""Heatmaps of one sequence (matplotlib, Agg): inputs, targets, outputs, each head's
weights over time (and each write head's adds), and the memory after the last step."""

import numpy as np

from .view import sigmoid


def plot_sequence(path, cfg, example, title=""):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    trace = example["trace"]
    outputs = sigmoid(example["logits"]) * (example["mask"][:, None] > 0)
    panels = [("inputs", example["inputs"].T, "channel", (0, 1), "gray_r"),
              ("targets", example["targets"].T, "channel", (0, 1), "gray_r"),
              ("outputs", outputs.T, "channel", (0, 1), "gray_r")]
    for h in range(cfg.Wh):
        panels.append((f"write head {h} weights", trace["write.weight"][:, h].T, "location",
                       (0, 1), "viridis"))
        panels.append((f"write head {h} adds", trace["write.add"][:, h].T, "column",
                       (-1, 1), "RdBu_r"))
    for h in range(cfg.R):
        panels.append((f"read head {h} weights", trace["read.weight"][:, h].T, "location",
                       (0, 1), "viridis"))
    heights = [max(p[1].shape[0], 4) for p in panels]
    memory = trace["memory"][-1]
    T = example["inputs"].shape[0]
    fig = plt.figure(figsize=(max(6.0, 0.22 * T + 3.0), 0.11 * (sum(heights) + memory.shape[0])
                              + 0.45 * len(panels) + 1.0))
    grid = fig.add_gridspec(len(panels) + 1, 1, height_ratios=heights + [memory.shape[0]],
                            hspace=0.55, top=0.96, bottom=0.03)
    for i, (name, values, ylabel, (vmin, vmax), cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[i])
        im = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap,
                       vmin=vmin, vmax=vmax)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    ax.set_xlabel("time step", fontsize=8)
    ax = fig.add_subplot(grid[-1])
    lim = float(np.max(np.abs(memory))) or 1.0
    im = ax.imshow(memory, aspect="auto", interpolation="nearest", cmap="RdBu_r",
                   vmin=-lim, vmax=lim)
    ax.set_title("memory after the last step (location x column)", fontsize=9, loc="left")
    ax.set_ylabel("location", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
