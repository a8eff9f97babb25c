"""``diffmem test`` and ``diffmem pretrained list|table``."""

import os

from diffmem.usage import UsageError

from . import plot, view
from .cli_checks import check_engine, check_int, check_output, check_task_range, \
    load_model_arg

PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def knob_word(task, family=None):
    """What the --lo/--hi knob counts for a task: 'lengths', 'items' or 'n'."""
    from .data import hook
    return hook(task, family).knob_word(task)


def model_hook(model):
    """The training hook of a loaded model's family (its config says which)."""
    from .data import hook, model_family
    return hook(model.task["name"], model_family(model))


def report(model, result, lo, hi):
    from .data import model_family
    from .loop import metric_line
    task = model.header["task"]["name"]
    word = knob_word(task, model_family(model))
    family = model_hook(model)
    lines = [f"model {task} {model.header['task'].get('options', {})} "
             f"({family.describe(model.config)}), "
             f"trained {model.header['steps']} steps on {word} "
             f"{model.header['training']['lo']}..{model.header['training']['hi']}",
             f"test {word} {lo}..{hi}, {result['inputs'].shape[0]} sequences: "
             f"{metric_line(family, result, ', ')}"]
    if result["bayes_bits"] is not None:
        lines.append(f"Bayes-optimal predictor on the same sequences: bits/seq "
                     f"{result['bayes_bits']:.4f} (model / optimal = "
                     f"{result['bits'] / result['bayes_bits']:.4f})")
    return "\n".join(lines)


def test_command(args):
    from .data import model_family
    from .evaluate import evaluate
    check_int("--batch-size", args.batch_size)
    check_int("--seed", args.seed, lo=0)
    if args.plot:
        check_output("--plot", args.plot, PLOT_SUFFIXES)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot: matplotlib is not installed "
                             "(pip install 'diffmem[plot]')") from None
    check_engine("--backend", args.backend)
    model = load_model_arg("--model", args.model)
    trained = model.header.get("training", {})
    for flag in ("lo", "hi"):   # default: the range the model was trained on
        if getattr(args, flag) is None:
            if trained.get(flag) is None:
                raise UsageError(f"--{flag}: {args.model} records no training range; give "
                                 f"--lo and --hi")
            setattr(args, flag, int(trained[flag]))
        check_int(f"--{flag}", getattr(args, flag))
    if args.hi < args.lo:
        raise UsageError(f"--hi {args.hi}: expected an integer >= --lo ({args.lo})")
    task = model.task["name"]
    try:
        family = model_hook(model)
    except ValueError:
        raise UsageError(f"--model {args.model}: its task {task!r} is not one diffmem "
                         f"tests") from None
    check_task_range(task, model.task.get("options", {}), args.lo, args.hi,
                     family=model_family(model))
    result = evaluate(model, args.lo, args.hi, batch=args.batch_size, seed=args.seed,
                      backend=args.backend)
    print(report(model, result, args.lo, args.hi))
    ex = result["example"]
    if not args.no_view:
        print("\nfirst sequence:\n")
        print(family.text_view(model.config, ex, view))
    if args.plot:
        try:
            family.picture(model.config, ex, args.plot,
                           title=f"{os.path.basename(args.model)}: {task}, "
                                 f"{knob_word(task, model_family(model))} "
                                 f"{args.lo}..{args.hi}", plot=plot)
        except OSError as exc:   # a full disk: the metrics above are printed already
            raise UsageError(f"--plot {args.plot}: could not write it "
                             f"({exc.strerror or exc})") from None
        print(f"wrote {args.plot}")
    return 0


def list_command(args):
    from diffmem import pretrained
    from .modelfile import ModelFileError, load_model
    from .table import describe
    print(f"{'name':32s} {'model':48s} {'steps':>6s}  trained on")
    for short, (_, path) in pretrained.models().items():   # family by family
        name = f"{pretrained.PREFIX}{short}"
        try:
            model = load_model(path)
            task = model.task["name"]
            word = model_hook(model).knob_word(task)
        except ModelFileError as exc:
            print(f"{name:32s} (unusable: {exc.problem})")
            continue
        except ValueError:
            print(f"{name:32s} (unusable: its task {model.task['name']!r} is not one diffmem "
                  f"trains)")
            continue
        tr = model.header["training"]
        print(f"{name:32s} {describe(model):48s} {model.header['steps']:6d}  "
              f"{word} {tr['lo']}..{tr['hi']}")
    print(f"\nfiles in {pretrained.folder()}; use the name wherever a model file goes, "
          f"e.g. diffmem test --model pretrained:copy --lo 20 --hi 20")
    return 0


def table_command(args):
    from .table import pretrained_table
    check_int("--batch-size", args.batch_size)
    check_int("--seed", args.seed, lo=0)
    from .modelfile import ModelFileError
    if args.folder is not None and not os.path.isdir(args.folder):
        raise UsageError(f"--folder {args.folder}: no such folder")
    try:
        print(pretrained_table(args.folder, batch=args.batch_size, seed=args.seed))
    except ModelFileError as exc:
        raise UsageError(f"--folder: {exc}") from None
    return 0
