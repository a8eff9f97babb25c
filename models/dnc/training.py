"""What ``diffmem train`` / ``diffmem test`` need to train and show a DNC (the family's
training hook, ``FAMILY.training``: ``TRAINING``).

Tasks: the NTM's copy, repeat copy, associative recall and priority sort through the NTM's
own task code (shared tasks: ``diffmem train --family dnc --task copy``; ``--task copy``
alone is the NTM's), and the DNC paper's ``serial_copy`` (``tasks.py``).  Sizes: the NTM's
flags, which mean the same here: memory rows N (``--N``), row width W (``--M``, the NTM's
name for it), read heads R (``--read-heads``), ``--controller`` and ``--units``; one
write head always (dnc/1).  Metric: bit errors per sequence (the NTM's).  Views: the
write, usage and allocation weightings, the gates, the read weightings and modes, the
link matrix and memory (``views.py``); for serial copy, the rows written per episode.
Pretrained: ``dnc_copy`` and ``dnc_associative_recall``, bundled with diffmem
(``pretrained/<name>.npz``, made by ``pretrained/train_dnc.sh``).
"""

from diffmem.models.hooks import BUNDLED_PRETRAINED, TrainingHook

from . import tasks, views

CONTROLLERS = ("feedforward", "lstm")
WORDS = {"length": "lengths", "n_items": "items", "n_seqs": "sequences"}


class DNCTraining(TrainingHook):
    """The DNC's training hook (module docstring)."""

    TASKS = tasks.SHARED + ("serial_copy",)
    SHARED_TASKS = tasks.SHARED
    # The NTM's flags (added by the NTM's hook); messages name the flag, never the key.
    SIZE_FLAGS = {"N": "--N", "M": "--M", "controller": "--controller", "units": "--units",
                  "read_heads": "--read-heads"}
    INT_SIZES = {"N": 1, "M": 1, "read_heads": 1}
    # Small enough to train on a shared CPU; JAX compiles the time loop once per shape
    # and runs a step several times faster than torch's Python loop on a CPU.
    DEFAULTS = {"N": 16, "M": 8, "controller": "feedforward", "units": 64, "read_heads": 1,
                "backend": "jax", "optimizer": "adam"}
    METRICS = (("errors", "bit errors/seq", ".3f"),)

    def add_arguments(self, parser):
        """None of its own: the NTM's hook adds --N, --M and --read-heads."""

    def pretrained(self):
        return {name: BUNDLED_PRETRAINED / f"{name}.npz"
                for name in ("dnc_copy", "dnc_associative_recall")}

    def test_ranges(self, task, lo, hi):
        """The training range, then beyond it: copy at exactly twice its longest length
        (the goal: at most one bit error per sequence there), the item tasks two items
        more, serial copy up to twice as many sequences."""
        if task == "copy":
            return [(lo, hi), (2 * hi, 2 * hi)]
        if task in ("associative_recall", "priority_sort"):
            return [(lo, hi), (hi + 1, hi + 2)]
        return [(lo, hi), (hi + 1, 2 * hi)]

    def default_range(self, task):
        """(lo, hi) of the task's knob for a new run: the NTM's 1..5; serial copy 1..10
        sequences (the paper's 10)."""
        return (1, 10) if task == "serial_copy" else (1, 5)

    def knob_word(self, task):
        return WORDS[tasks.KNOBS[task]]

    def check_sizes(self, sizes):
        if sizes["controller"] not in CONTROLLERS:
            raise ValueError(f"--controller {sizes['controller']}: expected one of "
                             f"{', '.join(CONTROLLERS)}")

    def model_config(self, task, options, sizes):
        from .config import DNCConfig
        X, Y = tasks.task_sizes(task, **options)
        return DNCConfig(input_size=X, output_size=Y, controller_size=sizes["units"],
                         memory_rows=sizes["N"], memory_width=sizes["M"],
                         read_heads=sizes["read_heads"], controller=sizes["controller"])

    def describe(self, cfg):
        return f"dnc N={cfg.N} W={cfg.W} R={cfg.R} {cfg.controller} {cfg.H}"

    def describe_long(self, cfg):
        return (f"dnc: X={cfg.X} Y={cfg.Y} N={cfg.N} W={cfg.W} R={cfg.R} {cfg.controller} "
                f"{cfg.H} units, one write head")

    def metrics(self, logits, targets, mask, task, options, inputs=None):
        """{"errors": mean bit errors per sequence}: the NTM's metric, on the same tasks."""
        from diffmem.models.ntm.training import TRAINING as NTM
        return NTM.metrics(logits, targets, mask, task, options, inputs)

    def text_view(self, cfg, run, view):
        return views.text_view(cfg, run, view)

    def picture(self, cfg, run, path, title="", plot=None):
        return views.picture(cfg, run, path, title, plot)


TRAINING = DNCTraining()
