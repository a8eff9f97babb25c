"""``diffmem train``, ``diffmem test`` and ``diffmem pretrained list|table``: the parsers.

The commands are in ``cli_train`` (train) and ``cli_test`` (test, pretrained); the checks
they run on every argument before any work are in ``cli_checks``.
"""

import argparse

from diffmem.models import families

from .cli_test import list_command, table_command, test_command
from .cli_train import DEFAULT_SAVE_EVERY, DEFAULT_STEPS, train_command
from .data import task_names

ENGINE_CHOICES = ("torch", "jax", "reference")


# ------------------------------------------------------------------ parsers

def add_commands(subparsers):
    _add_train(subparsers)
    _add_test(subparsers)
    _add_pretrained(subparsers)


def _add_train(subparsers):
    p = subparsers.add_parser(
        "train", help="train a model (NTM, neural stack/queue/deque, Stack-RNN, DNC) on a "
                      "task",
        description="Train a model on a task and save it as a model file; the task picks "
                    "the family: the NTM's five tasks (TASKS.md), the neural stack, queue "
                    "and deque's three transduction tasks and the Stack-RNN's seven "
                    "patterns (STACKS.md), the DNC's serial copy and, with --family dnc, "
                    "the NTM's tasks but n-grams (DNC.md).  --resume continues a saved run exactly where it "
                    "stopped.  Ctrl-C or SIGTERM saves the state after the last finished "
                    "step.")
    g = p.add_argument_group("task")
    g.add_argument("--task", choices=task_names(), metavar="TASK",
                   help="the task, which picks the model family (required unless --resume): "
                        "NTM copy, repeat_copy, associative_recall, dynamic_ngrams, "
                        "priority_sort; stack/queue/deque sequence_copy, sequence_reversal, "
                        "bigram_flip; Stack-RNN anbn, anbncn, anbncndn, anb2n, anbmcnm, "
                        "memorisation, binary_addition; DNC serial_copy")
    g.add_argument("--family", metavar="FAMILY",
                   help="the family to train when another one also trains the task: the DNC "
                        "trains the NTM's copy, repeat_copy, associative_recall and "
                        "priority_sort with --family dnc (default: the task's own family)")
    g.add_argument("--width", type=int, help="vector width in bits (the task option 'width'; "
                   "task default: 8 for most tasks, 6 for associative_recall)")
    g.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="another task option, repeatable: max_repeats=5, item_len=3, "
                        "order=6, n_out=4, normalise=false (NTM); alphabet=8 (stack "
                        "tasks); k=3 (memorisation)")
    g.add_argument("--lo", type=int, help="smallest value of the task's knob in training "
                   "(sequence length; number of items for associative_recall and "
                   "priority_sort; n for the Stack-RNN's tasks; default: NTM 1, stack tasks "
                   "8, Stack-RNN the task's least n)")
    g.add_argument("--hi", type=int, help="largest value of the task's knob in training "
                   "(default: NTM 5, stack tasks 64, Stack-RNN 19)")
    g.add_argument("--curriculum", type=float, metavar="BITS",
                   help="start at --lo and raise the largest knob by one whenever the recent "
                        "mean bits per sequence is below BITS (default: off)")
    g = p.add_argument_group("model (every family)")
    g.add_argument("--units", type=int, help="controller units; the Stack-RNN's hidden "
                   "units (default: NTM 100, stack/queue/deque 64, Stack-RNN 40)")
    # The Stack-RNN paper's name for the same size, kept working but not shown.
    g.add_argument("--hidden", type=int, dest="units", help=argparse.SUPPRESS)
    g.add_argument("--controller", choices=("feedforward", "lstm"),
                   help="controller kind of the NTM and the stack/queue/deque (default: NTM "
                        "feedforward, stack/queue/deque lstm)")
    # Each family's own size flags, in an argument group of its own.
    for fam in families().values():
        if fam.training is not None:
            fam.training.add_arguments(p)
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=("rmsprop", "adam"),
                   help="rmsprop: Graves 2013 with momentum 0.9, decay 0.95, the NTM paper's "
                        "(the NTM's default); adam: Kingma & Ba (the default of the stack "
                        "families)")
    g.add_argument("--lr", type=float, help="learning rate (default 1e-4 for rmsprop, "
                   "1e-3 for adam)")
    g.add_argument("--lr-halve-every", type=int, metavar="STEPS",
                   help="halve the learning rate every STEPS steps (default: never)")
    g.add_argument("--clip", type=float, help="clip each gradient component to "
                   "[-CLIP, CLIP]; 0 turns clipping off (default 10)")
    g.add_argument("--batch-size", type=int, help="sequences per step (default 16)")
    g.add_argument("--seed", type=int, help="seed of the parameters and the data (default 0)")
    g.add_argument("--steps", type=int, help=f"total optimizer steps, counting those of a "
                   f"resumed run (default {DEFAULT_STEPS})")
    g.add_argument("--sequences", type=int, help="total sequences seen, instead of --steps")
    g.add_argument("--backend", choices=ENGINE_CHOICES,
                   help="engine for the gradients (default: NTM torch, the stack families "
                        "jax; jax is faster on CPU for small models; reference: float64, "
                        "for tiny runs)")
    g.add_argument("--dtype", choices=("float32", "float64"),
                   help="engine precision (default float32; float64 for the reference)")
    g = p.add_argument_group("output")
    g.add_argument("--save-to", metavar="FILE",
                   help="model file to write (default: the --resume file, else "
                        "MODEL-TASK.npz, e.g. ntm-copy.npz, queue-sequence_copy.npz)")
    g.add_argument("--overwrite", action="store_true",
                   help="let a new run replace an existing --save-to file")
    g.add_argument("--save-every", type=int, metavar="STEPS",
                   help=f"also save every STEPS steps; 0: only at the end, on Ctrl-C and "
                        f"on an error (default {DEFAULT_SAVE_EVERY})")
    g.add_argument("--log-every", type=int, metavar="STEPS",
                   help="print the metrics (and the text view of a training sequence) every "
                        "STEPS steps (default 0: never)")
    g.add_argument("--no-view", action="store_true", help="log metrics without the text view")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--grad-check", action="store_true",
                   help="at the first step and every --log-every steps, compare the "
                        "engine's gradients with the reference's on the current batch")
    g = p.add_argument_group("resuming")
    g.add_argument("--resume", metavar="MODEL",
                   help="continue training a saved model (a file or pretrained:TASK); its "
                        "sizes, task, optimizer, seed and batch size are kept")
    g.add_argument("--override-saved", action="store_true",
                   help="with --resume: let --optimizer, --seed and --batch-size replace "
                        "the saved ones (each change is printed as a warning)")
    p.set_defaults(func=train_command, argv=None)


def _add_batch_size(p, default, what):
    p.add_argument("--batch-size", type=int, default=default,
                   help=f"{what} (default {default})")
    # The old name, kept working but not shown: one name per concept in the help.
    p.add_argument("--batch", type=int, dest="batch_size", help=argparse.SUPPRESS)


def _add_test(subparsers):
    t = subparsers.add_parser(
        "test", help="run a saved model on fresh sequences and show its memory",
        description="Run a trained model on fresh sequences of the task it was trained on: "
                    "bits per sequence and the family's metrics (NTM: bit errors per "
                    "sequence; stack/queue/deque: coarse and fine accuracy; Stack-RNN: "
                    "sequences right on every deterministic symbol), then the first "
                    "sequence as a text view (and, with --plot, as a picture) of its "
                    "memory: the NTM's memory access, the stack's strengths, the "
                    "Stack-RNN's stacks.")
    t.add_argument("--model", required=True, metavar="MODEL",
                   help="a model file, or pretrained:TASK (see `diffmem pretrained list`)")
    t.add_argument("--lo", type=int, default=None,
                   help="smallest value of the task's knob (sequence length; number of "
                        "items for associative_recall and priority_sort; n for the "
                        "Stack-RNN's tasks; default: the model's training range)")
    t.add_argument("--hi", type=int, default=None,
                   help="largest value of the task's knob (default: the model's training "
                        "range)")
    _add_batch_size(t, 32, "sequences for the metrics")
    t.add_argument("--seed", type=int, default=1234, help="seed of the test data (default 1234)")
    t.add_argument("--backend", choices=ENGINE_CHOICES, default="reference",
                   help="engine for the metrics (default reference, float64; the views "
                        "always come from the reference)")
    t.add_argument("--no-view", action="store_true", help="metrics only, no text view")
    t.add_argument("--plot", metavar="FILE",
                   help="write a picture of the first sequence (.png, .pdf or .svg)")
    t.set_defaults(func=test_command)


def _add_pretrained(subparsers):
    p = subparsers.add_parser(
        "pretrained", help="list or test the pretrained models (pretrained:TASK)",
        description="The pretrained models, one per task.  Any command that takes a model "
                    "file also takes pretrained:TASK, e.g. `diffmem test --model "
                    "pretrained:copy --lo 20 --hi 20`.")
    sub = p.add_subparsers(dest="pretrained_command", required=True, metavar="ACTION")
    lst = sub.add_parser("list", help="the pretrained models: name, sizes, training",
                         description="List the pretrained models with the name to give "
                                     "--model or --resume.")
    lst.set_defaults(func=list_command)
    tab = sub.add_parser("table", help="test every pretrained model and print the table",
                         description="Test each pretrained model through the reference "
                                     "(float64) on fresh sequences, on its training range "
                                     "and beyond, and print the table of docs/training.md.")
    _add_table_options(tab)
    old = subparsers.add_parser(
        "pretrained-table", help="the same as `diffmem pretrained table`",
        description="The same as `diffmem pretrained table`.")
    _add_table_options(old)


def _add_table_options(p):
    p.add_argument("--folder", metavar="DIR",
                   help="folder of <task>.npz model files (default: the pretrained models)")
    _add_batch_size(p, 64, "fresh sequences per row")
    p.add_argument("--seed", type=int, default=2024, help="seed of the test data (default 2024)")
    p.set_defaults(func=table_command)
