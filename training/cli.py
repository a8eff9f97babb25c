"""``diffmem train``, ``diffmem test`` and ``diffmem pretrained list|table``: argument
parsing and checking over ``loop``, ``evaluate``, ``view``, ``plot`` and ``table``.

Every argument is checked before any work starts; a user's mistake is a ``UsageError``
naming the flag and what was expected (one line, exit status 2).
"""

import argparse
import math
import os
import sys
import tempfile

from diffmem.usage import UsageError

TASK_CHOICES = ("copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort")
ENGINE_CHOICES = ("torch", "jax", "reference")
# Defaults of a new run (a resumed run takes what it does not get from its model file).
TRAIN_DEFAULTS = {"N": 16, "M": 8, "controller": "feedforward", "units": 100,
                  "read_heads": 1, "write_heads": 1, "lo": 1, "hi": 5,
                  "optimizer": "rmsprop", "clip": 10.0, "backend": "torch",
                  "batch_size": 16, "seed": 0}
DEFAULT_STEPS = 1000
DEFAULT_SAVE_EVERY = 100
# The flag that sets each training setting, for messages.
FLAGS = {"task": "--task", "N": "--N", "M": "--M", "controller": "--controller",
         "units": "--units", "read_heads": "--read-heads", "write_heads": "--write-heads",
         "lo": "--lo", "hi": "--hi", "curriculum": "--curriculum", "optimizer": "--optimizer",
         "lr": "--lr", "lr_halve_every": "--lr-halve-every", "clip": "--clip",
         "backend": "--backend", "dtype": "--dtype", "batch_size": "--batch-size",
         "seed": "--seed", "steps": "--steps", "sequences": "--sequences",
         "save_every": "--save-every", "log_every": "--log-every"}
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


# ------------------------------------------------------------------ parsers

def add_commands(subparsers):
    _add_train(subparsers)
    _add_test(subparsers)
    _add_pretrained(subparsers)


def _add_train(subparsers):
    p = subparsers.add_parser(
        "train", help="train an NTM on one of the five tasks",
        description="Train an NTM on a task of the NTM paper (TASKS.md) and save it as a "
                    "model file; --resume continues a saved run exactly where it stopped.  "
                    "Ctrl-C or SIGTERM saves the state after the last finished step.")
    g = p.add_argument_group("task")
    g.add_argument("--task", choices=TASK_CHOICES, help="the task (required unless --resume)")
    g.add_argument("--width", type=int, help="vector width in bits (the task option 'width'; "
                   "task default: 8 for most tasks, 6 for associative_recall)")
    g.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="another task option, repeatable: max_repeats=5, item_len=3, "
                        "order=6, n_out=4, normalise=false")
    g.add_argument("--lo", type=int, help="smallest value of the task's knob in training "
                   "(sequence length, or number of items for associative_recall and "
                   "priority_sort; default 1)")
    g.add_argument("--hi", type=int, help="largest value of the task's knob in training "
                   "(default 5)")
    g.add_argument("--curriculum", type=float, metavar="BITS",
                   help="start at --lo and raise the largest knob by one whenever the recent "
                        "mean bits per sequence is below BITS (default: off)")
    g = p.add_argument_group("model")
    g.add_argument("--N", type=int, help="memory rows (default 16)")
    g.add_argument("--M", type=int, help="memory row width (default 8)")
    g.add_argument("--controller", choices=("feedforward", "lstm"),
                   help="controller kind (default feedforward)")
    g.add_argument("--units", type=int, help="controller units (default 100)")
    g.add_argument("--read-heads", type=int, help="read heads (default 1)")
    g.add_argument("--write-heads", type=int, help="write heads (default 1)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--optimizer", choices=("rmsprop", "adam"),
                   help="rmsprop: Graves 2013 with momentum 0.9, decay 0.95, the NTM paper's "
                        "(default); adam: Kingma & Ba")
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
                   help="engine for the gradients (default torch; jax is faster on CPU for "
                        "small models; reference: float64, for tiny runs)")
    g.add_argument("--dtype", choices=("float32", "float64"),
                   help="engine precision (default float32; float64 for the reference)")
    g = p.add_argument_group("output")
    g.add_argument("--save-to", metavar="FILE",
                   help="model file to write (default: the --resume file, else ntm-TASK.npz)")
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
        "test", help="run a saved model on fresh sequences and show its memory access",
        description="Run a trained model on fresh sequences of the task it was trained on: "
                    "bits and bit errors per sequence, then the first sequence as a text "
                    "view (and, with --plot, as a picture) of its inputs, outputs and "
                    "memory access.")
    t.add_argument("--model", required=True, metavar="MODEL",
                   help="a model file, or pretrained:TASK (see `diffmem pretrained list`)")
    t.add_argument("--lo", type=int, required=True,
                   help="smallest value of the task's knob (sequence length, or number of "
                        "items for associative_recall and priority_sort)")
    t.add_argument("--hi", type=int, required=True, help="largest value of the task's knob")
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


# ------------------------------------------------------------------ checks

def check_int(flag, value, lo=1, what=None):
    if value is not None and value < lo:
        raise UsageError(f"{flag} {value}: expected {what or f'an integer >= {lo}'}")
    return value


def check_number(flag, value, positive=True):
    if value is None:
        return value
    ok = math.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise UsageError(f"{flag} {value}: expected a finite number "
                         f"{'> 0' if positive else '>= 0'}")
    return value


def check_output(flag, path, suffixes=None):
    """An output file we will be able to write, checked before any work."""
    if suffixes and not path.lower().endswith(suffixes):
        raise UsageError(f"{flag} {path}: expected a file name ending in "
                         f"{', '.join(suffixes)}")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a folder; expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".diffmem-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write in {folder} ({exc.strerror})") from None
    return path


def load_model_arg(flag, spec):
    """A model from a command-line value: a file, or pretrained:TASK."""
    from diffmem import pretrained
    from .modelfile import ModelFileError, load_model
    try:
        path = pretrained.resolve(spec)
    except ValueError as exc:
        raise UsageError(f"{flag} {spec}: {exc}") from None
    try:
        return load_model(path)
    except ModelFileError as exc:
        hint = ""
        stem = os.path.splitext(os.path.basename(spec))[0]
        if exc.problem == "no such file" and stem in pretrained.TASKS and os.sep not in spec:
            hint = f" (the pretrained model is pretrained:{stem})"
        raise UsageError(f"{flag} {spec}: {exc.problem}{hint}") from None


def _split(message):
    """'width: expected ...' -> ('width', 'expected ...'); the tasks name the argument first."""
    name, sep, rest = message.partition(": ")
    return (name, rest) if sep and " " not in name else (None, message)


def check_task_range(task, options, lo, hi, lo_flag="--lo", hi_flag="--hi"):
    """The task accepts its options and the knob at lo and at hi (one short batch each)."""
    import numpy as np
    from diffmem.tasks.registry import KNOBS
    from . import data
    try:
        data.sizes(task, options)
    except ValueError as exc:
        name, rest = _split(str(exc))
        if name == "width" and "width" in options:
            raise UsageError(f"--width {options['width']}: {rest}") from None
        if name in options:
            raise UsageError(f"--option {name}={options[name]}: {rest}") from None
        if "width" in options and "'width'" in str(exc):
            raise UsageError(f"--width {options['width']}: {exc}") from None
        raise UsageError(f"--option: {exc}") from None
    if hi < lo:
        raise UsageError(f"{hi_flag} {hi}: expected an integer >= {lo_flag} ({lo})")
    for flag, value in ((lo_flag, lo), (hi_flag, hi)):
        try:
            data.batch(task, np.random.default_rng(0), 1, value, value, options)
        except ValueError as exc:
            name, rest = _split(str(exc))
            if name == KNOBS[task]:
                raise UsageError(f"{flag} {value}: {task}'s {name} (set by --lo/--hi) "
                                 f"{rest}") from None
            if name in options:
                raise UsageError(f"--option {name}={options[name]} with {flag} {value}: "
                                 f"{rest}") from None
            raise UsageError(f"{flag} {value}: {exc}") from None


def check_engine(flag, name):
    """The engine's framework is installed (checked before the run starts)."""
    import importlib.util
    module = {"torch": "torch", "jax": "jax"}.get(name)
    if module and importlib.util.find_spec(module) is None:
        raise UsageError(f"{flag} {name}: {module} is not installed "
                         f"(pip install 'diffmem[{module}]')")


# ------------------------------------------------------------------ train

def _given(args):
    """The training settings given on the command line (None: not given)."""
    from .data import parse_options
    try:
        options = parse_options(args.option)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.width is not None:
        options["width"] = args.width
    return {"task": args.task, "options": options, "N": args.N, "M": args.M,
            "controller": args.controller, "units": args.units,
            "read_heads": args.read_heads, "write_heads": args.write_heads,
            "lo": args.lo, "hi": args.hi, "curriculum": args.curriculum,
            "optimizer": args.optimizer, "lr": args.lr, "lr_halve_every": args.lr_halve_every,
            "clip": args.clip, "backend": args.backend, "dtype": args.dtype,
            "batch_size": args.batch_size, "seed": args.seed, "steps": args.steps,
            "sequences": args.sequences, "save_every": args.save_every,
            "log_every": args.log_every, "view": not args.no_view,
            "grad_check": args.grad_check}


def _check_flags(given):
    """Ranges of the flags that were given, before anything is loaded."""
    for key in ("N", "M", "units", "read_heads", "write_heads", "batch_size", "lo", "hi",
                "steps", "sequences", "lr_halve_every"):
        check_int(FLAGS[key], given[key])
    for key in ("save_every", "log_every", "seed"):
        check_int(FLAGS[key], given[key], lo=0)
    for key in ("lr", "curriculum"):
        check_number(FLAGS[key], given[key])
    check_number("--clip", given["clip"], positive=False)
    if given["steps"] is not None and given["sequences"] is not None:
        raise UsageError("--steps and --sequences: give one budget, not both")
    if given["lo"] is not None and given["hi"] is not None and given["hi"] < given["lo"]:
        raise UsageError(f"--hi {given['hi']}: expected an integer >= --lo ({given['lo']})")


def _flag_of(key):
    if key.startswith("options."):
        name = key[len("options."):]
        return "--width" if name == "width" else f"--option {name}"
    return FLAGS[key]


def _resume_settings(args, given, model):
    """Settings of a resumed run: conflicts refused (or overridden), budget explained."""
    from .loop import RUN_SETTINGS, resume_conflicts
    saved = model.header["training"]
    conflicts = resume_conflicts(saved, given)
    shape = [c for c in conflicts if c[0].split(".")[0] not in RUN_SETTINGS]
    run = [c for c in conflicts if c[0] in RUN_SETTINGS]

    def listed(items):
        return ", ".join(f"{_flag_of(k)} {g} (saved: {s})" for k, g, s in items)

    if shape:
        raise UsageError(f"--resume {args.resume}: {listed(shape)}: a resumed model keeps "
                         f"its task and sizes; train a new model instead")
    if run and not args.override_saved:
        raise UsageError(f"--resume {args.resume}: {listed(run)}: differ from the saved run; "
                         f"leave them out, or add --override-saved to change them")
    for key, value, old in run:
        effect = {"optimizer": "the optimizer state starts afresh",
                  "seed": "the data generator restarts from the new seed",
                  "batch_size": "later steps use the new batch size"}[key]
        print(f"warning: {FLAGS[key]} {value} replaces the saved {old}; {effect}; the run "
              f"is no longer the one its first command describes", file=sys.stderr)
    for key in ("lo", "hi", "lr", "lr_halve_every", "clip", "curriculum", "backend", "dtype"):
        if given[key] is not None and given[key] != saved.get(key):
            old = "default" if saved.get(key) is None else f"saved {saved.get(key)}"
            print(f"note: {FLAGS[key]} {given[key]} replaces the {old}", file=sys.stderr)
    settings = dict(given)
    # A budget given anew replaces the saved one; 0 switches the other off.
    if given["steps"] is not None:
        settings["sequences"] = 0
    elif given["sequences"] is not None:
        settings["steps"] = 0
    return settings, [k for k, _, _ in run]


def _already_done(model, settings):
    """The message for a resumed run whose budget is already reached, else None."""
    steps, sequences = model.header["steps"], model.header["sequences"]
    saved = model.header["training"]
    budget_steps = settings["steps"] if settings["steps"] is not None else saved.get("steps")
    budget_seq = settings["sequences"] if settings["sequences"] is not None \
        else saved.get("sequences")
    if budget_seq:
        if sequences >= budget_seq:
            return (f"already trained on {sequences} sequences (budget --sequences "
                    f"{budget_seq}); nothing to do, the file is unchanged; give a larger "
                    f"--sequences to train on")
    elif budget_steps is not None and steps >= budget_steps:
        return (f"already trained {steps} steps (budget --steps {budget_steps}); nothing to "
                f"do, the file is unchanged; give --steps above {steps} to train on")
    return None


def _final_checks(settings):
    """The merged settings against each other and the task (new and resumed runs)."""
    from .loop import model_config
    check_task_range(settings["task"], settings["options"], settings["lo"], settings["hi"])
    if settings.get("curriculum") and settings["lo"] == settings["hi"]:
        print("note: --curriculum has nothing to do when --lo equals --hi", file=sys.stderr)
    try:
        model_config(settings)
    except ValueError as exc:   # the flags were checked: this would be a missed check
        raise UsageError(f"model sizes: {exc}") from None
    check_engine("--backend", settings["backend"])


def train_command(args):
    from .loop import Trainer, command_line
    given = _given(args)
    _check_flags(given)
    override = ()
    model = None
    if args.resume is not None:
        model = load_model_arg("--resume", args.resume)
        settings, override = _resume_settings(args, given, model)
        message = _already_done(model, settings)
        if message:
            print(f"{args.resume}: {message}", file=sys.stderr)
            return 0
        from diffmem import pretrained
        if args.save_to is None and pretrained.is_name(args.resume):
            raise UsageError(f"--resume {args.resume}: give --save-to FILE (the pretrained "
                             f"models are not overwritten)")
        save_to = args.save_to or args.resume
        task = model.task["name"]
    else:
        if args.task is None:
            raise UsageError("--task: expected one of " + ", ".join(TASK_CHOICES) +
                             " (or --resume MODEL)")
        if args.override_saved:
            raise UsageError("--override-saved: only with --resume")
        settings = dict(given)
        for key, value in TRAIN_DEFAULTS.items():
            if settings[key] is None:
                settings[key] = value
        if settings["steps"] is None and settings["sequences"] is None:
            settings["steps"] = DEFAULT_STEPS
        settings["steps"] = settings["steps"] or 0
        settings["sequences"] = settings["sequences"] or 0
        save_to = args.save_to or f"ntm-{args.task}.npz"
        task = args.task
        check_output("--save-to", save_to)
        if os.path.exists(save_to) and not args.overwrite:
            raise UsageError(f"--save-to {save_to}: exists; continue it with --resume "
                             f"{save_to}, choose another --save-to, or add --overwrite")
    if settings.get("save_every") is None:
        settings["save_every"] = DEFAULT_SAVE_EVERY if model is None else \
            model.header["training"].get("save_every", DEFAULT_SAVE_EVERY)
    check_output("--save-to", save_to)
    if model is not None:
        from .loop import merge_resumed
        _final_checks(merge_resumed(model.header["training"], settings, override))
    else:
        _final_checks(settings)
    settings["save_to"] = save_to
    command = command_line(args.argv)
    trainer = Trainer(settings, resume=model, override=override)
    previous = trainer.settings.get("commands") or []
    trainer.settings["commands"] = previous + [command]
    trainer.settings["command"] = command
    cfg = trainer.cfg
    print(f"task {task} {trainer.settings['options']}  X={cfg.X} Y={cfg.Y} "
          f"N={cfg.N} M={cfg.M} {cfg.controller} {cfg.H} units, R={cfg.R} Wh={cfg.Wh}; "
          f"{trainer.engine.name} engine, {trainer.settings['optimizer']} lr "
          f"{trainer.optimizer.lr:g}, batch {trainer.settings['batch_size']}; "
          f"starting at step {trainer.steps}; saving to {save_to}", file=sys.stderr)
    _stop_on_signals()
    try:
        trainer.run(progress=not args.no_progress)
    except FloatingPointError as exc:   # a diverged run, not a bug: its state was saved
        print(f"diffmem train: {exc}", file=sys.stderr)
        return 1
    return 0


def _stop_on_signals():
    """Ctrl-C and ``kill PID`` both stop training through KeyboardInterrupt, which saves the
    latest state.  Installed explicitly: a job started in the background by a
    non-interactive shell inherits SIGINT as ignored."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


# ------------------------------------------------------------------ test

def knob_word(task):
    """What the --lo/--hi knob counts for a task: 'items' or 'lengths'."""
    from diffmem.tasks.registry import KNOBS
    return "items" if KNOBS[task] == "n_items" else "lengths"


def report(model, result, lo, hi):
    task = model.header["task"]["name"]
    word = knob_word(task)
    lines = [f"model {task} {model.header['task'].get('options', {})}, "
             f"trained {model.header['steps']} steps on {word} "
             f"{model.header['training']['lo']}..{model.header['training']['hi']}",
             f"test {word} {lo}..{hi}, {result['inputs'].shape[0]} sequences: "
             f"bits/seq {result['bits']:.4f}, bit errors/seq {result['errors']:.3f}"]
    if result["bayes_bits"] is not None:
        lines.append(f"Bayes-optimal predictor on the same sequences: bits/seq "
                     f"{result['bayes_bits']:.4f} (model / optimal = "
                     f"{result['bits'] / result['bayes_bits']:.4f})")
    return "\n".join(lines)


def test_command(args):
    from .evaluate import evaluate
    from .view import text_view
    check_int("--lo", args.lo)
    check_int("--hi", args.hi)
    check_int("--batch-size", args.batch_size)
    check_int("--seed", args.seed, lo=0)
    if args.hi < args.lo:
        raise UsageError(f"--hi {args.hi}: expected an integer >= --lo ({args.lo})")
    if args.plot:
        check_output("--plot", args.plot, PLOT_SUFFIXES)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot: matplotlib is not installed "
                             "(pip install 'diffmem[plot]')") from None
    check_engine("--backend", args.backend)
    model = load_model_arg("--model", args.model)
    task = model.task["name"]
    check_task_range(task, model.task.get("options", {}), args.lo, args.hi)
    result = evaluate(model, args.lo, args.hi, batch=args.batch_size, seed=args.seed,
                      backend=args.backend)
    print(report(model, result, args.lo, args.hi))
    ex = result["example"]
    if not args.no_view:
        print("\nfirst sequence:\n")
        print(text_view(model.config, ex["inputs"], ex["targets"], ex["logits"], ex["trace"],
                        ex["mask"]))
    if args.plot:
        from .plot import plot_sequence
        plot_sequence(args.plot, model.config, ex,
                      title=f"{os.path.basename(args.model)}: {task}, "
                            f"{knob_word(task)} {args.lo}..{args.hi}")
        print(f"wrote {args.plot}")
    return 0


# ------------------------------------------------------------------ pretrained

def list_command(args):
    from diffmem import pretrained
    from .modelfile import ModelFileError, load_model
    from .table import describe
    print(f"{'name':32s} {'model':48s} {'steps':>6s}  trained on")
    for task in pretrained.TASKS:
        name = f"{pretrained.PREFIX}{task}"
        try:
            model = load_model(pretrained.path(task))
        except ModelFileError as exc:
            print(f"{name:32s} (unusable: {exc.problem})")
            continue
        tr = model.header["training"]
        print(f"{name:32s} {describe(model):48s} {model.header['steps']:6d}  "
              f"{knob_word(task)} {tr['lo']}..{tr['hi']}")
    print(f"\nfiles in {pretrained.folder()}; use the name wherever a model file goes, "
          f"e.g. diffmem test --model pretrained:copy --lo 20 --hi 20")
    return 0


def table_command(args):
    from .table import pretrained_table
    check_int("--batch-size", args.batch_size)
    check_int("--seed", args.seed, lo=0)
    if args.folder is not None and not os.path.isdir(args.folder):
        raise UsageError(f"--folder {args.folder}: no such folder")
    print(pretrained_table(args.folder, batch=args.batch_size, seed=args.seed))
    return 0
