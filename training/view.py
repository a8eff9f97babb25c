"""The text view of one sequence: what went in, what came out, and the memory access.

Blocks, each a titled grid with time flowing left to right (one column per step) and
one row per channel or memory location, values rounded to one decimal:
inputs, targets, outputs (sigmoid of the logits), then per write head its weights over
the N locations, its adds and erases over the M memory columns, then per read head its
weights.  All of it comes from one sequence's NTM.md trace.
"""

import numpy as np

CELL = 5  # characters per step: "-0.3 " fits, so columns line up for any sign


def fmt(value):
    """One value rounded to one decimal, without a '-0.0'."""
    return f"{round(float(value), 1) + 0.0:.1f}"


def grid(title, label, values):
    """values [rows, T] -> lines: a title, a time axis, one line per row."""
    values = np.asarray(values, dtype=np.float64)
    width = max(len(f"{label}{values.shape[0] - 1}"), 4)
    lines = [title, " " * (width + 3) + "".join(f"{t:>{CELL - 1}} " for t in range(values.shape[1]))
             .rstrip()]
    for i, row in enumerate(values):
        cells = "".join(f"{fmt(v):>{CELL - 1}} " for v in row)
        lines.append(f"{label + str(i):>{width}} | {cells.rstrip()}")
    return lines


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def text_view(cfg, inputs, targets, logits, trace, mask=None):
    """The view of one sequence (unbatched arrays: inputs [T, X], trace name -> [T, ...])."""
    outputs = sigmoid(logits)
    if mask is not None:  # outputs are only meaningful where an answer is expected
        outputs = outputs * (np.asarray(mask)[:, None] > 0)
    blocks = [grid("inputs (channel x time)", "x", np.asarray(inputs).T),
              grid("targets", "y", np.asarray(targets).T),
              grid("outputs (sigmoid of logits, masked steps only)", "y", outputs.T)]
    for h in range(cfg.Wh):
        blocks.append(grid(f"write head {h}: weights (location x time)", "loc",
                           trace["write.weight"][:, h].T))
        blocks.append(grid(f"write head {h}: adds (memory column x time)", "col",
                           trace["write.add"][:, h].T))
        blocks.append(grid(f"write head {h}: erases (memory column x time)", "col",
                           trace["write.erase"][:, h].T))
    for h in range(cfg.R):
        blocks.append(grid(f"read head {h}: weights (location x time)", "loc",
                           trace["read.weight"][:, h].T))
    return "\n\n".join("\n".join(b) for b in blocks)
