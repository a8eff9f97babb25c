"""What ``diffmem train`` / ``diffmem test`` need for the toy family: one size flag of its
own (``--toy-hidden``), bit errors per sequence, a text view of the hidden units, and its
pretrained model."""

import pathlib

import numpy as np

from diffmem.models.hooks import TrainingHook

from . import tasks
from .model import ToyConfig

PRETRAINED = pathlib.Path(__file__).resolve().parent / "pretrained"


class ToyTraining(TrainingHook):
    TASKS = ("toy_echo",)
    SIZE_FLAGS = {"toy_hidden": "--toy-hidden"}
    INT_SIZES = {"toy_hidden": 1}
    DEFAULTS = {"toy_hidden": 6, "optimizer": "adam"}
    METRICS = (("errors", "bit errors/seq", ".3f"),)

    def add_arguments(self, parser):
        g = parser.add_argument_group("toy model")
        g.add_argument("--toy-hidden", type=int, help="hidden units of the toy RNN (default 6)")

    def pretrained(self):
        return {"toy_echo": PRETRAINED / "toy_echo.npz"}

    def default_range(self, task):
        return 2, 6

    def knob_word(self, task):
        return "lengths"

    def check_sizes(self, sizes):
        pass

    def model_config(self, task, options, sizes):
        X, Y = tasks.task_sizes(task, **options)
        return ToyConfig(input_size=X, output_size=Y, hidden_size=sizes["toy_hidden"])

    def describe(self, cfg):
        return f"H={cfg.hidden_size}"

    def describe_long(self, cfg):
        return f"toy: X={cfg.input_size} Y={cfg.output_size} H={cfg.hidden_size}"

    def metrics(self, logits, targets, mask, task, options, inputs=None):
        wrong = ((np.asarray(logits) > 0) != (np.asarray(targets) > 0.5)) \
            & (np.asarray(mask)[..., None] > 0)
        return {"errors": float(np.mean(wrong.sum(axis=(1, 2))))}

    def text_view(self, cfg, run, view):
        hidden = np.asarray(run["trace"]["hidden"]).T
        labels = [f"h{i}" for i in range(cfg.hidden_size)]
        return view.windowed(hidden.shape[1], lambda a, b: [
            view.number_block("hidden units (unit x time)", labels, hidden[:, a:b], a)])

    def picture(self, cfg, run, path, title="", plot=None):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 2), layout="constrained")
        ax.imshow(np.asarray(run["trace"]["hidden"]).T, aspect="auto", cmap="RdBu_r",
                  vmin=-1, vmax=1)
        ax.set_title(title or "hidden units", fontsize=9, loc="left")
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path


TRAINING = ToyTraining()
