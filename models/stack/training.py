"""What ``diffmem train`` / ``diffmem test`` need to train and show a neural stack, queue
or deque (the family's training hook, ``FAMILY.training``: ``TRAINING``).

Sizes (flags): ``--structure stack|queue|deque`` (the config's ``model``),
``--controller feedforward|lstm``, ``--units`` (controller width H), ``--value-size``
(the paper's m).  Every task of the family is one symbol per step, so the loss is the
config's ``softmax`` (cross-entropy in nats, masked to the target part).

Metrics (Grefenstette et al. 2015, section 4.3; ``tasks/accuracy.py``): coarse accuracy
(fraction of sequences whose whole target is right) and fine accuracy (mean fraction of
each target right before its first error), on one teacher-forced pass, which for these
scores equals greedy decoding (``tasks/transduction.py``).

Views of one sequence: the symbols read, expected and predicted, the push and pop
strengths d_t and u_t, and the strength s_t[i] of every row over time (``text_view``:
rows x steps as text, the top row first; ``picture``: the same as an image).  A row is
labelled by the step that pushed it: ``r5`` is row 5 of the stack or queue, pushed at step
5 counted from 1 (column 4 of the view, whose time axis counts from 0); the deque's rows
are ``t5`` (pushed on the top end at step 5) and ``b5`` (on the bottom end).  A row's
cells before its push are blank (``.``).
"""

import argparse

import numpy as np

from diffmem.models.hooks import BUNDLED_PRETRAINED, TrainingHook

from . import tasks
from .config import CONTROLLERS, MODELS


# ---------------------------------------------------------------- views

def symbol_names(cfg):
    """(input channel names, output channel names): the symbols 0..A-1 by number, then
    ``<s>`` and ``|||`` in, ``</s>`` out (``tasks/transduction.py``)."""
    A = cfg.Y - 1
    return [str(i) for i in range(A)] + ["<s>", "|||"], [str(i) for i in range(A)] + ["</s>"]


def symbol_rows(cfg, run, blank):
    """{"in", "target", "out", "wrong"}: one string per step; target, out and wrong only
    on masked steps (``blank`` elsewhere)."""
    names_in, names_out = symbol_names(cfg)
    inputs, targets = np.asarray(run["inputs"]), np.asarray(run["targets"])
    logits, mask = np.asarray(run["logits"]), np.asarray(run["mask"]) > 0
    said = logits.argmax(axis=-1)
    want = targets.argmax(axis=-1)
    return {
        "in": [names_in[i] if x.any() else blank for i, x in zip(inputs.argmax(-1), inputs)],
        "target": [names_out[w] if m else blank for w, m in zip(want, mask)],
        "out": [names_out[s] if m else blank for s, m in zip(said, mask)],
        "wrong": ["x" if m and s != w else blank for s, w, m in zip(said, want, mask)],
    }


def strength_rows(cfg, strength):
    """strength [T, rows] (the padded trace) -> (labels, values [shown rows, T], pushed
    at [shown rows]), the top row first, NaN before a row's push."""
    strength = np.asarray(strength, dtype=np.float64)
    T = strength.shape[0]
    if cfg.model != "deque":
        entries = list(range(T - 1, -1, -1))
        labels = [f"r{e + 1}" for e in entries]
        pushed = entries
    else:
        entries = list(range(2 * T - 1, -1, -1))
        labels = [f"t{e - T + 1}" if e >= T else f"b{T - e}" for e in entries]
        pushed = [e - T if e >= T else T - 1 - e for e in entries]
    values = strength[:, entries].T.copy()
    steps = np.arange(T)
    values[np.asarray(pushed)[:, None] > steps[None, :]] = np.nan
    return labels, values, np.asarray(pushed)


def action_rows(cfg, trace):
    """[(label, values [T])]: push then pop strengths (deque: per end)."""
    names = ["push", "pop"] if cfg.model != "deque" else \
        ["push.top", "push.bottom", "pop.top", "pop.bottom"]
    return [(name, np.asarray(trace[name], dtype=np.float64)) for name in names]


def figure(cfg, run, title=""):
    """The strengths of every row over time as an image (the bottom row at the bottom),
    the push and pop strengths below it: the matplotlib figure."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    trace = run["trace"]
    labels, values, _ = strength_rows(cfg, trace["strength"])
    actions = action_rows(cfg, trace)
    T = values.shape[1]
    width = min(max(6.0, 0.12 * T + 3.0), 30.0)
    height = min(max(2.0, 0.05 * values.shape[0]), 12.0)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(width, height + 2.2), sharex=True,
                                      gridspec_kw={"height_ratios": [height, 1.6]},
                                      layout="constrained")
    # Rows were listed top first; flip so that row 1 (the bottom, the oldest) is drawn at
    # the bottom.  NaN (not pushed yet) is left blank.
    image = top.imshow(values[::-1], aspect="auto", interpolation="nearest", origin="lower",
                       cmap="viridis", vmin=0.0, vmax=1.0)
    top.set_title(f"{cfg.model}: strength of each row over time", fontsize=9, loc="left")
    top.set_ylabel("row (pushed at step)" if cfg.model != "deque" else "row (bottom to top)",
                   fontsize=8)
    ticks = np.linspace(0, len(labels) - 1, min(len(labels), 8)).round().astype(int)
    top.set_yticks(ticks, [labels[::-1][i] for i in ticks], fontsize=7)
    fig.colorbar(image, ax=top, fraction=0.02, pad=0.01)
    for name, v in actions:
        bottom.plot(np.arange(T), v, label=name, drawstyle="steps-mid")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel("strength", fontsize=8)
    bottom.set_xlabel("time step", fontsize=8)
    bottom.set_title("push (d) and pop (u)", fontsize=9, loc="left")
    bottom.legend(fontsize=7, loc="upper right", ncol=len(actions))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


class StackTraining(TrainingHook):
    """The stack, queue and deque's training hook (module docstring)."""

    TASKS = tuple(tasks.TASKS)
    SIZE_FLAGS = {"structure": "--structure", "controller": "--controller", "units": "--units",
                  "value_size": "--value-size"}
    INT_SIZES = {"value_size": 1}
    # The paper's controller is an LSTM; widths kept small enough to train on a CPU.  Runs
    # train on the JAX engine (compiled once per batch shape) by default: a step at the
    # paper's lengths (T up to 130) is several times faster there than in torch on a CPU.
    DEFAULTS = {"structure": "stack", "controller": "lstm", "units": 64, "value_size": 32,
                "backend": "jax", "optimizer": "adam"}
    METRICS = (("coarse", "coarse accuracy", ".3f"), ("fine", "fine accuracy", ".3f"))

    def add_arguments(self, parser):
        g = parser.add_argument_group("neural stack / queue / deque model")
        # Checked by the family (one line naming the flag), not by argparse's choices.
        g.add_argument("--structure", metavar="{stack,queue,deque}",
                       help="the memory (the config's model; default stack)")
        # Another name for --structure (the config calls it model), kept working but not
        # shown: `diffmem test --model` is a model file.
        g.add_argument("--model", dest="structure",
                       help=argparse.SUPPRESS)
        g.add_argument("--value-size", type=int,
                       help="width m of the values pushed (default 32)")

    def pretrained(self):
        return {name: BUNDLED_PRETRAINED / f"{name}.npz"
                for name in ("queue_copy", "stack_reversal")}

    def default_range(self, task):
        """The paper's training source lengths, 8..64 (section 4.3)."""
        return tasks.TRAIN_LENGTHS

    def knob_word(self, task):
        return "lengths"

    def check_sizes(self, sizes):
        if sizes["structure"] not in MODELS:
            raise ValueError(f"--structure {sizes['structure']}: expected one of "
                             f"{', '.join(MODELS)}")
        if sizes["controller"] not in CONTROLLERS:
            raise ValueError(f"--controller {sizes['controller']}: expected one of "
                             f"{', '.join(CONTROLLERS)}")

    def model_config(self, task, options, sizes):
        from .config import StackConfig
        X, Y = tasks.task_sizes(task, **options)
        return StackConfig(input_size=X, output_size=Y, controller_size=sizes["units"],
                           value_size=sizes["value_size"], controller=sizes["controller"],
                           loss="softmax", model=sizes["structure"])

    def describe(self, cfg):
        return f"{cfg.model} m={cfg.m} {cfg.controller} {cfg.H}"

    def describe_long(self, cfg):
        return f"{cfg.model}: X={cfg.X} Y={cfg.Y} m={cfg.m} {cfg.controller} {cfg.H} units"

    def metrics(self, logits, targets, mask, task, options, inputs=None):
        """{"coarse", "fine"} accuracy of the batch (``tasks.coarse`` / ``tasks.fine``)."""
        return {"coarse": tasks.coarse(logits, targets, mask),
                "fine": tasks.fine(logits, targets, mask)}

    def text_view(self, cfg, run, view):
        """``run``: {"inputs" [T, X], "targets" [T, Y], "mask" [T], "logits" [T, Y], "trace"
        (name -> [T, ...])} of one sequence -> the view as text (module docstring)."""
        number_block, rows_block, windowed = view.number_block, view.rows_block, view.windowed
        trace = run["trace"]
        symbols = symbol_rows(cfg, run, view.BLANK)
        labels, values, pushed = strength_rows(cfg, trace["strength"])
        actions = action_rows(cfg, trace)
        T = values.shape[1]
        where = "top row first" if cfg.model != "queue" else "newest row first; reads and pops " \
            "take the oldest"

        def render(start, stop):
            shown = pushed < stop     # rows pushed by the window's last step
            return [
                rows_block("symbols (in: read; target and out: masked steps; x: wrong)",
                           list(symbols), [row[start:stop] for row in symbols.values()], start),
                number_block(f"{cfg.model}: push and pop strengths (d, u)",
                             [name for name, _ in actions],
                             [v[start:stop] for _, v in actions], start),
                number_block(f"{cfg.model}: strengths s_t (row x time, {where})",
                             [lab for lab, s in zip(labels, shown) if s],
                             values[shown][:, start:stop], start),
            ]
        return windowed(T, render)

    def picture(self, cfg, run, path, title="", plot=None):
        """``figure`` written to ``path`` (.png, .pdf, .svg)."""
        import matplotlib.pyplot as plt
        fig = figure(cfg, run, title)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


TRAINING = StackTraining()
