"""The generic pieces of a picture of one sequence (matplotlib), which each family's
training hook draws its own picture with (``TrainingHook.picture`` gets this module).

Readable at every task size: a one-row panel gets one tick and a colour bar with only its
two ends; small axes get a tick per row; a figure grows with the sequence up to a cap,
beyond which the columns get narrower.
"""

INCHES_PER_STEP = 0.22
MAX_WIDTH = 30.0          # inches; a T = 200 sequence still fits a screen when zoomed
INCHES_PER_ROW = 0.14
MIN_PANEL = 0.3           # inches: a one-row panel keeps room for its title and ticks


def ticks(ax, rows, columns):
    from matplotlib.ticker import MaxNLocator
    if rows <= 8:   # every row labelled: no fractional or crowded ticks on small axes
        ax.set_yticks(range(rows))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=min(columns, 25)))
    ax.tick_params(labelsize=7)


def colorbar(fig, im, ax, vmin, vmax):
    bar = fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    # Only the two ends: a short panel cannot hold more labels without overlap.
    bar.set_ticks([vmin, vmax], labels=[f"{vmin:.2g}", f"{vmax:.2g}"])
    bar.ax.tick_params(labelsize=6)
    return bar
