"""``diffmem train``, ``diffmem test`` and ``diffmem pretrained-table``: thin argument
parsing over ``loop``, ``evaluate``, ``view``, ``plot`` and ``table``."""

import argparse
import os
import sys

TASK_CHOICES = ("copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort")


def add_commands(subparsers):
    p = subparsers.add_parser(
        "train", help="train an NTM on one of the five tasks",
        description="Train an NTM on a task (TASKS.md) and save it as a model file.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--task", choices=TASK_CHOICES, help="the task (required unless --resume)")
    p.add_argument("--width", type=int, help="vector width in bits (task option 'width')")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="another task option, e.g. max_repeats=5, item_len=3, order=6")
    p.add_argument("--N", type=int, default=16, help="memory rows")
    p.add_argument("--M", type=int, default=8, help="memory row width")
    p.add_argument("--controller", choices=("feedforward", "lstm"), default="feedforward")
    p.add_argument("--units", type=int, default=100, help="controller units")
    p.add_argument("--read-heads", type=int, default=1)
    p.add_argument("--write-heads", type=int, default=1)
    p.add_argument("--lo", type=int, help="shortest training sequence (task knob; default 1)")
    p.add_argument("--hi", type=int, help="longest training sequence (task knob; default 5)")
    p.add_argument("--curriculum", type=float, metavar="BITS",
                   help="start at --lo and lengthen the longest sequence by one whenever "
                        "the recent mean bits per sequence is below BITS")
    p.add_argument("--optimizer", choices=("rmsprop", "adam"), default="rmsprop",
                   help="rmsprop: Graves 2013 with momentum 0.9, decay 0.95 (the NTM paper's)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-4 rmsprop, 1e-3 adam)")
    p.add_argument("--lr-halve-every", type=int, metavar="STEPS",
                   help="halve the learning rate every STEPS steps")
    p.add_argument("--clip", type=float, default=10.0,
                   help="clip each gradient component to [-CLIP, CLIP] (0: off)")
    p.add_argument("--backend", choices=("torch", "jax", "reference"),
                   help="engine for gradients (default torch, or as saved when resuming; "
                        "jax is the faster on CPU for small models)")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="engine precision (default float32; the reference float64)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0, help="parameters and data")
    p.add_argument("--steps", type=int, help="total optimizer steps (default 1000)")
    p.add_argument("--sequences", type=int, help="total sequences seen (instead of --steps)")
    p.add_argument("--save-to", metavar="FILE",
                   help="model file (default: the --resume file, else ntm-TASK.npz)")
    p.add_argument("--save-every", type=int, metavar="STEPS", default=0)
    p.add_argument("--log-every", type=int, metavar="STEPS", default=0,
                   help="print metrics and the text view of a training sequence")
    p.add_argument("--no-view", action="store_true", help="log metrics without the text view")
    p.add_argument("--grad-check", action="store_true",
                   help="at the first step and every --log-every steps, compare the "
                        "engine's gradients with the reference's on the current batch")
    p.add_argument("--resume", metavar="FILE", help="continue training a saved model")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=train_command, argv=None)

    t = subparsers.add_parser(
        "test", help="run a saved model on fresh sequences and show its memory access",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--model", required=True, metavar="FILE")
    t.add_argument("--lo", type=int, required=True, help="shortest test sequence (task knob)")
    t.add_argument("--hi", type=int, required=True, help="longest test sequence (task knob)")
    t.add_argument("--batch", type=int, default=32, help="sequences for the metrics")
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--backend", choices=("reference", "torch", "jax"), default="reference")
    t.add_argument("--no-view", action="store_true", help="metrics only")
    t.add_argument("--plot", metavar="FILE.png", help="write heatmaps of the first sequence")
    t.set_defaults(func=test_command)

    r = subparsers.add_parser(
        "pretrained-table", help="test the pretrained models and print the README table")
    r.add_argument("--folder", help="folder of model files (default: the pretrained package)")
    r.add_argument("--batch", type=int, default=64)
    r.add_argument("--seed", type=int, default=2024)
    r.set_defaults(func=table_command)


def _settings(args):
    from .data import parse_options
    options = parse_options(args.option)
    if args.width is not None:
        options["width"] = args.width
    steps, sequences = args.steps, args.sequences
    if args.resume is None:
        args.backend = args.backend or "torch"
        steps = 1000 if steps is None and sequences is None else steps
        args.lo = 1 if args.lo is None else args.lo
        args.hi = 5 if args.hi is None else args.hi
    # 0 switches a budget off (None would mean "as saved" when resuming).
    if steps is not None and sequences is None:
        sequences = 0
    elif sequences is not None and steps is None:
        steps = 0
    return {"task": args.task, "options": options, "N": args.N, "M": args.M,
            "controller": args.controller, "units": args.units,
            "read_heads": args.read_heads, "write_heads": args.write_heads,
            "lo": args.lo, "hi": args.hi, "curriculum": args.curriculum,
            "optimizer": args.optimizer, "lr": args.lr, "lr_halve_every": args.lr_halve_every,
            "clip": args.clip, "backend": args.backend, "dtype": args.dtype,
            "batch_size": args.batch_size, "seed": args.seed, "steps": steps,
            "sequences": sequences, "save_every": args.save_every,
            "log_every": args.log_every, "view": not args.no_view,
            "grad_check": args.grad_check}


def _stop_on_signals():
    """Ctrl-C and ``kill PID`` both stop training through KeyboardInterrupt, which saves the
    latest state.  Installed explicitly: a job started in the background by a
    non-interactive shell inherits SIGINT as ignored."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)


def train_command(args):
    from .loop import Trainer, command_line
    if args.task is None and args.resume is None:
        raise SystemExit("diffmem train: give --task (or --resume FILE)")
    settings = _settings(args)
    settings["save_to"] = args.save_to or args.resume or f"ntm-{args.task}.npz"
    command = command_line(args.argv)
    trainer = Trainer(settings, resume=args.resume)
    previous = trainer.settings.get("commands") or []
    trainer.settings["commands"] = previous + [command]
    trainer.settings["command"] = command
    cfg = trainer.cfg
    print(f"task {trainer.settings['task']} {trainer.settings['options']}  X={cfg.X} Y={cfg.Y} "
          f"N={cfg.N} M={cfg.M} {cfg.controller} {cfg.H} units, R={cfg.R} Wh={cfg.Wh}; "
          f"{trainer.engine.name} engine, {trainer.settings['optimizer']} lr "
          f"{trainer.optimizer.lr:g}, batch {trainer.settings['batch_size']}; "
          f"starting at step {trainer.steps}", file=sys.stderr)
    _stop_on_signals()
    trainer.run(progress=not args.no_progress)
    return 0


def report(model, result, lo, hi):
    lines = [f"model {model.header['task']['name']} {model.header['task'].get('options', {})}, "
             f"trained {model.header['steps']} steps on lengths "
             f"{model.header['training']['lo']}..{model.header['training']['hi']}",
             f"test lengths {lo}..{hi}, {result['inputs'].shape[0]} sequences: "
             f"bits/seq {result['bits']:.4f}, bit errors/seq {result['errors']:.3f}"]
    if result["bayes_bits"] is not None:
        lines.append(f"Bayes-optimal predictor on the same sequences: bits/seq "
                     f"{result['bayes_bits']:.4f} (model / optimal = "
                     f"{result['bits'] / result['bayes_bits']:.4f})")
    return "\n".join(lines)


def test_command(args):
    from .evaluate import evaluate
    from .modelfile import load_model
    from .view import text_view
    model = load_model(args.model)
    result = evaluate(model, args.lo, args.hi, batch=args.batch, seed=args.seed,
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
                      title=f"{os.path.basename(args.model)}: {model.task['name']}, "
                            f"lengths {args.lo}..{args.hi}")
        print(f"wrote {args.plot}")
    return 0


def table_command(args):
    from .table import pretrained_table
    print(pretrained_table(args.folder, batch=args.batch, seed=args.seed))
    return 0
