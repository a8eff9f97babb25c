"""What ``diffmem train`` / ``diffmem test`` need to train and show a Stack-RNN (the
family's training hook, ``FAMILY.training``: ``TRAINING``).

Sizes (flags): ``--units`` (hidden H), ``--stacks`` (K), ``--depth`` (D), ``--top-k`` (k,
the rows of each stack the hidden layer reads) and ``--actions push,pop`` or
``push,pop,noop``.  The alphabet size V comes from the task.

Metric (Joulin & Mikolov 2015, section 5.1): the fraction of sequences whose every
deterministic symbol is predicted (``tasks/scoring.py``), teacher-forced on the whole
sequence.

Views of one sequence: the symbols read, expected and predicted (``*`` marks a
deterministic step, ``x`` a wrong prediction on one), then for each stack its action
probabilities and pushed value per step and its top rows over time (row 0 the top,
EMPTY = -1 shown as -1.0).  The rows shown reach down to the deepest row that ever holds
something other than EMPTY (at least the k rows read, at most ``ROWS_SHOWN``).
"""

import numpy as np

from diffmem.models.hooks import BUNDLED_PRETRAINED, TrainingHook

from . import tasks
from .config import ACTION_SETS

ACTION_CHOICES = tuple(",".join(a) for a in ACTION_SETS)
ROWS_SHOWN = 16
EMPTY = -1.0


# ---------------------------------------------------------------- views

def symbol_rows(cfg, run, blank):
    """{"in", "target", "out", "wrong"}: one string per step.  Symbols are the task's
    letters when ``run`` names its task, else channel numbers; ``*`` after a target marks
    a deterministic step, ``x`` a wrong prediction there."""
    inputs, targets = np.asarray(run["inputs"]), np.asarray(run["targets"])
    logits = np.asarray(run["logits"])
    task, options = run.get("task"), run.get("options") or {}
    names = list(tasks.symbols(task, **options)) if task in tasks.TASKS \
        else [str(i) for i in range(cfg.V)]
    used = targets.any(axis=-1)
    det = tasks.deterministic(task, inputs, targets, **options) > 0 \
        if task in tasks.TASKS else np.asarray(run["mask"]) > 0
    said, want = logits.argmax(-1), targets.argmax(-1)
    return {
        "in": [names[i] if x.any() else blank for i, x in zip(inputs.argmax(-1), inputs)],
        "target": [names[w] + ("*" if d else "") if u else blank
                   for w, d, u in zip(want, det, used)],
        "out": [names[s] if u else blank for s, u in zip(said, used)],
        "wrong": ["x" if d and s != w else blank for s, w, d in zip(said, want, det)],
    }


def rows_shown(cfg, stack):
    """How many top rows of a stack [T, D] to show (module docstring)."""
    used = np.nonzero(np.any(np.abs(np.asarray(stack) - EMPTY) > 0.05, axis=0))[0]
    deepest = int(used[-1]) + 1 if used.size else 0
    return min(cfg.D, max(cfg.k, deepest), ROWS_SHOWN)


def figure(cfg, run, title=""):
    """Each stack's rows over time as an image (row 0, the top, at the top; EMPTY dark),
    then the push probability of every stack: the matplotlib figure."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    trace = run["trace"]
    stack = np.asarray(trace["stack"], dtype=np.float64)
    action = np.asarray(trace["action"], dtype=np.float64)
    T = stack.shape[0]
    rows = [rows_shown(cfg, stack[:, s]) for s in range(cfg.K)]
    heights = [max(0.12 * r, 0.5) for r in rows] + [1.6]
    width = min(max(6.0, 0.15 * T + 3.0), 30.0)
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, sum(heights) + 0.45 * len(heights)),
                             sharex=True, gridspec_kw={"height_ratios": heights},
                             layout="constrained")
    for s in range(cfg.K):
        ax = axes[s]
        image = ax.imshow(stack[:, s, :rows[s]].T, aspect="auto", interpolation="nearest",
                          cmap="magma", vmin=EMPTY, vmax=1.0)
        ax.set_title(f"stack {s}: top {rows[s]} rows (-1 empty)", fontsize=8, loc="left")
        ax.set_ylabel("row", fontsize=7)
        ax.tick_params(labelsize=6)
        fig.colorbar(image, ax=ax, fraction=0.02, pad=0.01)
    ax = axes[-1]
    for s in range(cfg.K):
        ax.plot(np.arange(T), action[:, s, 0], label=f"stack {s}", drawstyle="steps-mid")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("probability of push", fontsize=9, loc="left")
    ax.set_xlabel("time step", fontsize=8)
    ax.legend(fontsize=6, loc="upper right", ncol=min(cfg.K, 5))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


class StackRNNTraining(TrainingHook):
    """The Stack-RNN's training hook (module docstring)."""

    TASKS = tuple(tasks.TASKS)
    SIZE_FLAGS = {"units": "--units", "stacks": "--stacks", "depth": "--depth",
                  "top_k": "--top-k", "actions": "--actions"}
    INT_SIZES = {"stacks": 1, "depth": 2, "top_k": 1}
    # The paper's model (section 5.1 and table 2: 40 hidden units, 10 stacks, top 2 rows read,
    # push and pop), deep enough to count to the test range's n = 60 with one push per symbol.
    DEFAULTS = {"units": 40, "stacks": 10, "depth": 100, "top_k": 2, "actions": "push,pop",
                "backend": "jax", "optimizer": "adam"}
    METRICS = (("correct", "sequences right", ".3f"),)

    def add_arguments(self, parser):
        g = parser.add_argument_group("Stack-RNN model")
        g.add_argument("--stacks", type=int, help="number of stacks K (default 10)")
        g.add_argument("--depth", type=int, help="rows per stack D (default 100)")
        g.add_argument("--top-k", type=int, help="top rows of each stack read by the hidden "
                       "layer (default 2)")
        g.add_argument("--actions", metavar="push,pop[,noop]",
                       help="the stack actions: push,pop or push,pop,noop (default push,pop)")

    def pretrained(self):
        return {"stackrnn_anbn": BUNDLED_PRETRAINED / "stackrnn_anbn.npz"}

    def default_range(self, task):
        """n from the task's smallest to the paper's training bound, n < 20 (table 2)."""
        return tasks.MIN_N[task], tasks.TRAIN_MAX_N

    def knob_word(self, task):
        return "n"

    def test_ranges(self, task, lo, hi):
        """The training range, then beyond it up to the paper's test bound, n = 60."""
        return [(lo, hi), (hi + 1, max(tasks.TEST_MAX_N, hi + 1))]

    def check_sizes(self, sizes):
        if sizes["actions"] not in ACTION_CHOICES:
            raise ValueError(f"--actions {sizes['actions']}: expected "
                             f"{' or '.join(ACTION_CHOICES)}")
        if sizes["depth"] < 2:
            raise ValueError(f"--depth {sizes['depth']}: expected an integer >= 2 (a stack has "
                             f"a top row and a bottom row)")
        if sizes["top_k"] > sizes["depth"]:
            raise ValueError(f"--top-k {sizes['top_k']}: expected at most --depth "
                             f"({sizes['depth']}), the rows a stack has")

    def model_config(self, task, options, sizes):
        from .config import StackRNNConfig
        V, _ = tasks.task_sizes(task, **options)
        return StackRNNConfig(alphabet_size=V, hidden_size=sizes["units"], stacks=sizes["stacks"],
                              depth=sizes["depth"], top_k=sizes["top_k"],
                              actions=tuple(sizes["actions"].split(",")))

    def describe(self, cfg):
        return f"H={cfg.H} K={cfg.K} D={cfg.D} k={cfg.k} {','.join(cfg.actions)}"

    def describe_long(self, cfg):
        return (f"stackrnn: V={cfg.V} H={cfg.H} stacks={cfg.K} depth={cfg.D} top-k={cfg.k} "
                f"actions {','.join(cfg.actions)}")

    def metrics(self, logits, targets, mask, task, options, inputs=None):
        """{"correct": fraction of sequences right on every deterministic symbol}."""
        if inputs is None:
            raise ValueError("metrics: the Stack-RNN's score needs the inputs (the stream's "
                             "first symbol decides which later symbols are deterministic)")
        det = tasks.deterministic(task, inputs, targets, **options)
        return {"correct": float(np.mean(tasks.sequence_correct(logits, targets, det)))}

    def text_view(self, cfg, run, view):
        """``run``: {"inputs" [T, V], "targets", "mask", "logits", "trace" (name -> [T, ...]),
        optionally "task" and "options"} of one sequence -> the view as text."""
        number_block, rows_block, windowed = view.number_block, view.rows_block, view.windowed
        trace = run["trace"]
        symbols = symbol_rows(cfg, run, view.BLANK)
        stack = np.asarray(trace["stack"], dtype=np.float64)          # [T, K, D]
        action = np.asarray(trace["action"], dtype=np.float64)        # [T, K, A]
        value = np.asarray(trace["push_value"], dtype=np.float64)     # [T, K]
        T = stack.shape[0]

        def render(start, stop):
            blocks = [rows_block("symbols (*: deterministic; x: wrong there)", list(symbols),
                                 [row[start:stop] for row in symbols.values()], start)]
            for s in range(cfg.K):
                blocks.append(number_block(
                    f"stack {s}: actions and the value pushed", list(cfg.actions) + ["value"],
                    np.concatenate([action[start:stop, s].T, value[None, start:stop, s]]), start))
                r = rows_shown(cfg, stack[:, s])
                blocks.append(number_block(
                    f"stack {s}: top {r} of {cfg.D} rows (row x time, row 0 the top, "
                    f"-1 empty)", [f"row{i}" for i in range(r)], stack[start:stop, s, :r].T,
                    start))
            return blocks
        return windowed(T, render)

    def picture(self, cfg, run, path, title="", plot=None):
        """``figure`` written to ``path`` (.png, .pdf, .svg)."""
        import matplotlib.pyplot as plt
        fig = figure(cfg, run, title)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


TRAINING = StackRNNTraining()
