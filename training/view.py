"""The generic pieces of a text view of one sequence, which each family's training hook
draws its own view with (``TrainingHook.text_view`` gets this module).

Blocks, each a titled grid with time flowing left to right (one column per step) and
one row per channel, memory location or stack row, values rounded to one decimal.  A
long sequence is cut into windows of at most ``STEPS_PER_WINDOW`` steps, each window
showing every block for those steps, so no line is longer than about 110 characters
and the blocks of one window stay aligned step for step.
"""

import numpy as np

CELL = 5  # characters per step: "-0.3 " fits, so columns line up for any sign
STEPS_PER_WINDOW = 20


def fmt(value):
    """One value rounded to one decimal, without a '-0.0'."""
    return f"{round(float(value), 1) + 0.0:.1f}"


def grid(title, label, values, first_step=0):
    """values [rows, T] -> lines: a title, a time axis (from first_step), one line per row."""
    values = np.asarray(values, dtype=np.float64)
    width = max(len(f"{label}{values.shape[0] - 1}"), 4)
    steps = range(first_step, first_step + values.shape[1])
    lines = [title, (" " * (width + 3) + "".join(f"{t:>{CELL - 1}} " for t in steps)).rstrip()]
    for i, row in enumerate(values):
        cells = "".join(f"{fmt(v):>{CELL - 1}} " for v in row)
        lines.append(f"{label + str(i):>{width}} | {cells.rstrip()}")
    return lines


# Rows of cells (strings), one column per step, cut into the same windows.

BLANK = "."   # a cell with nothing to show (a stack row not pushed yet, an unmasked step)


def cell(value):
    """A number as ``fmt`` rounds it; NaN (nothing there) as ``BLANK``."""
    value = float(value)
    return BLANK if np.isnan(value) else fmt(value)


def rows_block(title, labels, cells, first_step=0):
    """A titled grid: ``labels`` [rows], ``cells`` [rows][T] of strings -> lines."""
    width = max([len(str(label)) for label in labels] + [4])
    steps = len(cells[0]) if len(cells) else 0
    lines = [title, (" " * (width + 3) + "".join(
        f"{t:>{CELL - 1}} " for t in range(first_step, first_step + steps))).rstrip()]
    for label, row in zip(labels, cells):
        lines.append(f"{str(label):>{width}} | " + "".join(f"{c:>{CELL - 1}} " for c in row)
                     .rstrip())
    return lines


def number_block(title, labels, values, first_step=0):
    """``rows_block`` of numbers (values [rows, T]; NaN shown as ``BLANK``)."""
    values = np.asarray(values, dtype=np.float64)
    return rows_block(title, labels, [[cell(v) for v in row] for row in values], first_step)


def windowed(T, render, steps_per_window=STEPS_PER_WINDOW):
    """The whole view: ``render(start, stop)`` -> [block lines] for the steps start..stop-1,
    once for a short sequence, else once per window of ``steps_per_window`` steps."""
    if T <= steps_per_window:
        return "\n\n".join("\n".join(b) for b in render(0, T))
    windows = []
    for start in range(0, T, steps_per_window):
        stop = min(start + steps_per_window, T)
        windows.append(f"== steps {start}..{stop - 1} of {T} ==\n\n" +
                       "\n\n".join("\n".join(b) for b in render(start, stop)))
    return "\n\n".join(windows)
