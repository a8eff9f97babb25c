"""What ``diffmem train`` / ``diffmem test`` need to train and show an NTM (the family's
training hook, ``FAMILY.training``: ``TRAINING``).

Sizes: memory rows N, row width M, controller kind and units, read and write heads (the
flags ``--N --M --controller --units --read-heads --write-heads``).  Metric: bit errors
per sequence (NTM paper, figure 3 onward).  Views: the memory access of one sequence as
text and as a picture (``views.py``).  Pretrained: one model per task, bundled with
diffmem (``pretrained/<task>.npz``).
"""

from diffmem.models.hooks import BUNDLED_PRETRAINED, TrainingHook

from . import tasks, views


CONTROLLERS = ("feedforward", "lstm")
WORDS = {"length": "lengths", "n_items": "items"}


class NTMTraining(TrainingHook):
    """The NTM's training hook (module docstring)."""

    TASKS = tuple(name for name in tasks.TASKS if name != "random")   # random data has no answer
    # Setting key -> the flag that sets it (messages name the flag, never the key).
    SIZE_FLAGS = {"N": "--N", "M": "--M", "controller": "--controller", "units": "--units",
                  "read_heads": "--read-heads", "write_heads": "--write-heads"}
    INT_SIZES = {"N": 1, "M": 1, "read_heads": 1, "write_heads": 1}
    # Defaults of a new run: the sizes, and the run settings where the NTM's differ from the
    # generic ones (none).
    DEFAULTS = {"N": 16, "M": 8, "controller": "feedforward", "units": 100, "read_heads": 1,
                "write_heads": 1}
    # (key, label, format) of the metrics, the first the headline; ``metrics`` returns these keys.
    METRICS = (("errors", "bit errors/seq", ".3f"),)

    def add_arguments(self, parser):
        g = parser.add_argument_group("NTM model")
        g.add_argument("--N", type=int, help="memory rows (default 16)")
        g.add_argument("--M", type=int, help="memory row width (default 8)")
        g.add_argument("--read-heads", type=int, help="read heads (default 1)")
        g.add_argument("--write-heads", type=int, help="write heads (default 1)")

    def pretrained(self):
        return {task: BUNDLED_PRETRAINED / f"{task}.npz" for task in self.TASKS}

    def default_range(self, task):
        """(lo, hi) of the task's knob for a new run."""
        return 1, 5

    def knob_word(self, task):
        """What --lo/--hi count: 'lengths' or 'items'."""
        return WORDS[tasks.KNOBS[task]]

    def check_sizes(self, sizes):
        """Values the flag checks of the generic CLI cannot know; ValueError naming the flag."""
        if sizes["controller"] not in CONTROLLERS:
            raise ValueError(f"--controller {sizes['controller']}: expected one of "
                             f"{', '.join(CONTROLLERS)}")

    def model_config(self, task, options, sizes):
        from .reference import NTMConfig
        X, Y = tasks.task_sizes(task, **options)
        return NTMConfig(input_size=X, output_size=Y, controller_size=sizes["units"],
                         memory_rows=sizes["N"], memory_width=sizes["M"],
                         read_heads=sizes["read_heads"], write_heads=sizes["write_heads"],
                         controller=sizes["controller"])

    def describe(self, cfg):
        return f"N={cfg.N} M={cfg.M} {cfg.controller} {cfg.H}"

    def describe_long(self, cfg):
        return (f"X={cfg.X} Y={cfg.Y} N={cfg.N} M={cfg.M} {cfg.controller} {cfg.H} units, "
                f"R={cfg.R} Wh={cfg.Wh}")

    def metrics(self, logits, targets, mask, task, options, inputs=None):
        """{"errors": mean bit errors per sequence} (a masked output bit is wrong when
        sigmoid(logit) > 0.5 disagrees with the target bit)."""
        import numpy as np
        from diffmem.reference.loss import bit_errors
        return {"errors": float(np.mean(bit_errors(logits, targets, mask)))}

    def optimal_cost(self, task, inputs, targets, mask, options):
        """Dynamic n-grams (TASKS.md): the Bayes-optimal predictor's cost per sequence."""
        if task != "dynamic_ngrams":
            return None
        import numpy as np
        from . import tasks
        return np.asarray(tasks.bayes_optimal_cost(inputs, targets, mask, **options),
                          np.float64)

    def text_view(self, cfg, run, view):
        """``run``: {"inputs" [T, X], "targets", "mask", "logits", "trace"} of one sequence."""
        return views.text_view(cfg, run, view)

    def picture(self, cfg, run, path, title="", plot=None):
        return views.picture(cfg, run, path, title, plot)


TRAINING = NTMTraining()
