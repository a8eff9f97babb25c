"""The DNC's views of one sequence: what went in, what came out, and how memory was
allocated, written, linked and read (DNC.md's trace).

As text (``text_view``): blocks, each a titled grid with time flowing left to right, of
the inputs, targets, outputs (sigmoid of the logits), the write weighting ww_t, the gates
(write, allocation, free), the usage u_t and the allocation weighting a_t over the N
rows, then per read head its weighting and its read modes; after the windows, the link
matrix L and the memory after the last step; for serial copy, the rows written per
episode (DNC.md "Tasks").  As a picture (``picture``): the same as heatmaps, the bit
errors marked.  All of it comes from one sequence's trace; the grids and plot helpers are
the generic ones training hands in (``diffmem.training.view``, ``diffmem.training.plot``).
"""

import numpy as np

from diffmem.models.ntm.views import bit_error_cells, sigmoid

from . import tasks

MODES = ("backward", "content", "forward")   # DNC.md: pi^i[0], pi^i[1], pi^i[2]


def gates(cfg, trace):
    """(labels, values [gates, T]): write gate, allocation gate, then each free gate."""
    labels = ["write", "alloc"] + [f"free{i}" for i in range(cfg.R)]
    values = np.concatenate([np.asarray(trace["write_gate"]).T,
                             np.asarray(trace["allocation_gate"]).T,
                             np.asarray(trace["free_gate"]).T])
    return labels, values


def blocks_of(cfg, run):
    """[(title, row labels, values [rows, T])] of one sequence, in display order."""
    trace, mask = run["trace"], np.asarray(run["mask"])
    outputs = sigmoid(run["logits"]) * (mask[:, None] > 0)
    rows = [f"r{i}" for i in range(cfg.N)]
    gate_labels, gate_values = gates(cfg, trace)
    blocks = [("inputs (channel x time)", [f"x{i}" for i in range(cfg.X)],
               np.asarray(run["inputs"]).T),
              ("targets", [f"y{i}" for i in range(cfg.Y)], np.asarray(run["targets"]).T),
              ("outputs (sigmoid of logits, masked steps only)",
               [f"y{i}" for i in range(cfg.Y)], outputs.T),
              ("write weighting ww (row x time)", rows, np.asarray(trace["write.weight"])[:, 0].T),
              ("gates: write g^w, allocation g^a, free f^i", gate_labels, gate_values),
              ("usage u (row x time)", rows, np.asarray(trace["usage"]).T),
              ("allocation weighting a (row x time)", rows, np.asarray(trace["allocation"]).T)]
    for i in range(cfg.R):
        blocks += [(f"read head {i}: weighting wr (row x time)", rows,
                    np.asarray(trace["read.weight"])[:, i].T),
                   (f"read head {i}: read modes", list(MODES),
                    np.asarray(trace["read.mode"])[:, i].T)]
    return blocks


def rows_written_line(cfg, run):
    """Serial copy's memory reuse (DNC.md "Tasks"), or None for another task."""
    if run.get("task") != "serial_copy":
        return None
    options = run.get("options") or {}
    seq_len = options.get("seq_len", 5)
    T = np.asarray(run["inputs"]).shape[0]
    n_seqs = T // tasks.episode_length(seq_len)
    per_episode, total = tasks.rows_written(run["trace"]["write.weight"], n_seqs, seq_len)
    return (f"rows written (ww > 0.5) per sequence: {per_episode}; distinct rows over the "
            f"{n_seqs} sequences: {total} of N = {cfg.N}")


def text_view(cfg, run, view):
    """The view of one sequence (``run``: unbatched arrays, inputs [T, X], trace name ->
    [T, ...]) drawn with ``view``'s grids (``diffmem.training.view``)."""
    blocks = blocks_of(cfg, run)
    T = np.asarray(run["inputs"]).shape[0]
    text = view.windowed(T, lambda start, stop: [
        view.number_block(title, labels, values[:, start:stop], start)
        for title, labels, values in blocks])
    trace = run["trace"]
    rows = [f"r{i}" for i in range(cfg.N)]
    link = np.asarray(trace["link"])[-1]
    memory = np.asarray(trace["memory"])[-1]
    tail = [view.number_block(f"link matrix L after step {T - 1} (row i x column j: how "
                              f"strongly i was written right after j)", rows, link),
            view.number_block(f"memory after step {T - 1} (row x column)", rows, memory)]
    line = rows_written_line(cfg, run)
    return "\n\n".join([text] + ["\n".join(b) for b in tail] + ([line] if line else []))


def panels_of(cfg, run):
    """[(title, values [rows, T], y label, (vmin, vmax), colour map)] in display order."""
    trace = run["trace"]
    outputs = sigmoid(run["logits"]) * (np.asarray(run["mask"])[:, None] > 0)
    steps, _ = bit_error_cells(run)
    marked = f", {len(steps)} bit error{'s' if len(steps) != 1 else ''} marked x" \
        if len(steps) else ", no bit errors"
    _, gate_values = gates(cfg, trace)
    panels = [("inputs", np.asarray(run["inputs"]).T, "channel", (0, 1), "gray_r"),
              ("targets", np.asarray(run["targets"]).T, "channel", (0, 1), "gray_r"),
              (f"outputs (masked steps{marked})", outputs.T, "channel", (0, 1), "gray_r"),
              ("write weighting ww", np.asarray(trace["write.weight"])[:, 0].T, "row",
               (0, 1), "viridis"),
              ("gates: write, allocation, free 0..R-1", gate_values, "gate", (0, 1),
               "Oranges"),
              ("usage u", np.asarray(trace["usage"]).T, "row", (0, 1), "magma"),
              ("allocation weighting a", np.asarray(trace["allocation"]).T, "row", (0, 1),
               "viridis")]
    for i in range(cfg.R):
        panels += [(f"read head {i} weighting wr", np.asarray(trace["read.weight"])[:, i].T,
                    "row", (0, 1), "viridis"),
                   (f"read head {i} modes: backward, content, forward",
                    np.asarray(trace["read.mode"])[:, i].T, "mode", (0, 1), "Blues")]
    return panels


def make_figure(cfg, run, title, plot):
    """The matplotlib figure of one sequence: one axes per panel over time, then the link
    matrix and the memory after the last step side by side."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = panels_of(cfg, run)
    T = np.asarray(run["inputs"]).shape[0]
    link = np.asarray(run["trace"]["link"])[-1]
    memory = np.asarray(run["trace"]["memory"])[-1]
    heights = [max(plot.INCHES_PER_ROW * p[1].shape[0], plot.MIN_PANEL) for p in panels]
    heights.append(max(plot.INCHES_PER_ROW * cfg.N, 1.2))
    width = min(max(7.0, plot.INCHES_PER_STEP * T + 3.0), plot.MAX_WIDTH)
    fig = plt.figure(figsize=(width, sum(heights) + 0.45 * len(heights) + 0.6),
                     layout="constrained")
    grid = fig.add_gridspec(len(heights), 2, height_ratios=heights)
    for i, (name, values, ylabel, (vmin, vmax), cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[i, :])
        im = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap,
                       vmin=vmin, vmax=vmax)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_ylabel(ylabel, fontsize=7)
        plot.ticks(ax, values.shape[0], T)
        plot.colorbar(fig, im, ax, vmin, vmax)
        if name.startswith("outputs"):
            steps, channels = bit_error_cells(run)
            ax.scatter(steps, channels, marker="x", color="red", s=28, linewidths=1.2)
    ax.set_xlabel("time step", fontsize=8)
    ax = fig.add_subplot(grid[-1, 0])
    im = ax.imshow(link, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0,
                   vmax=1)
    ax.set_title(f"link L after step {T - 1}", fontsize=9, loc="left")
    ax.set_ylabel("row i (written after j)", fontsize=7)
    ax.set_xlabel("row j", fontsize=8)
    plot.ticks(ax, cfg.N, cfg.N)
    plot.colorbar(fig, im, ax, 0, 1)
    ax = fig.add_subplot(grid[-1, 1])
    lim = float(np.max(np.abs(memory))) or 1.0
    im = ax.imshow(memory, aspect="auto", interpolation="nearest", cmap="RdBu_r",
                   vmin=-lim, vmax=lim)
    ax.set_title(f"memory after step {T - 1}", fontsize=9, loc="left")
    ax.set_xlabel("column", fontsize=8)
    plot.ticks(ax, cfg.N, cfg.W)
    plot.colorbar(fig, im, ax, -lim, lim)
    line = rows_written_line(cfg, run)
    if title or line:
        fig.suptitle("\n".join(t for t in (title, line) if t), fontsize=10)
    return fig


def picture(cfg, run, path, title, plot):
    """Draw one sequence (``evaluate``'s ``example``) into ``path`` (.png, .pdf, .svg)."""
    import matplotlib.pyplot as plt
    fig = make_figure(cfg, run, title, plot)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
