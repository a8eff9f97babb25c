"""``diffmem train``: the settings from the flags (new run or resume), checked before
any work, then the training loop with Ctrl-C and SIGTERM saving the state.

The task picks the family (``data.family_of``; ``--family`` picks another family that
trains a shared task, e.g. ``--family dnc --task copy``); the family's training hook
(``FAMILY.training``) says which size flags apply (``SIZE_FLAGS``), their defaults and
its other defaults (``DEFAULTS``, ``default_range``).  A size flag of another family is
refused by name."""

import os
import sys

from diffmem.usage import UsageError

from .cli_checks import check_engine, check_int, check_number, check_output, \
    check_task_range, load_model_arg
from .modelfile import ModelSaveError


from .data import size_flags, task_names

# Defaults of a new run besides the family's (its sizes, and any of these it replaces in
# its hook's DEFAULTS); a resumed run takes what it does not get from its model file.
TRAIN_DEFAULTS = {"optimizer": "rmsprop", "clip": 10.0, "backend": "torch",
                  "batch_size": 16, "seed": 0}
DEFAULT_STEPS = 1000
DEFAULT_SAVE_EVERY = 100
# The flag that sets each run setting, for messages (the sizes' come from the families'
# hooks: ``data.size_flags``).
RUN_FLAGS = {"lo": "--lo", "hi": "--hi", "curriculum": "--curriculum",
             "optimizer": "--optimizer", "lr": "--lr", "lr_halve_every": "--lr-halve-every",
             "clip": "--clip", "backend": "--backend", "dtype": "--dtype",
             "batch_size": "--batch-size", "seed": "--seed", "steps": "--steps",
             "sequences": "--sequences", "save_every": "--save-every",
             "log_every": "--log-every"}


def flag(key):
    """The flag that sets a training setting."""
    return {"task": "--task", **size_flags(), **RUN_FLAGS}[key]


def int_sizes() -> dict:
    """Integer sizes and their least value: the shared ``--units`` and each family's."""
    least = {"units": 1}
    for hook in _hooks():
        least.update(hook.INT_SIZES)
    return {k: least[k] for k in size_flags() if k in least}


def _hooks():
    from diffmem.models import families
    return [fam.training for fam in families().values() if fam.training is not None]


def _given(args):
    """The training settings given on the command line (None: not given)."""
    from .data import parse_options
    try:
        options = parse_options(args.option)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.width is not None:
        options["width"] = args.width
    return {"task": args.task, "family": args.family, "options": options,
            **{key: getattr(args, key) for key in size_flags()},
            "lo": args.lo, "hi": args.hi, "curriculum": args.curriculum,
            "optimizer": args.optimizer, "lr": args.lr, "lr_halve_every": args.lr_halve_every,
            "clip": args.clip, "backend": args.backend, "dtype": args.dtype,
            "batch_size": args.batch_size, "seed": args.seed, "steps": args.steps,
            "sequences": args.sequences, "save_every": args.save_every,
            "log_every": args.log_every, "view": not args.no_view,
            "grad_check": args.grad_check}


def _check_flags(given):
    """Ranges of the flags that were given, before anything is loaded."""
    for key, least in int_sizes().items():
        check_int(flag(key), given[key], lo=least)
    for key in ("batch_size", "lo", "hi", "steps", "sequences", "lr_halve_every"):
        check_int(flag(key), given[key])
    for key in ("save_every", "log_every", "seed"):
        check_int(flag(key), given[key], lo=0)
    for key in ("lr", "curriculum"):
        check_number(flag(key), given[key])
    check_number("--clip", given["clip"], positive=False)
    if given["steps"] is not None and given["sequences"] is not None:
        raise UsageError("--steps and --sequences: give one budget, not both")
    if given["lo"] is not None and given["hi"] is not None and given["hi"] < given["lo"]:
        raise UsageError(f"--hi {given['hi']}: expected an integer >= --lo ({given['lo']})")


def _check_family(task, given, how):
    """Size flags given for another family than the task's are refused by name."""
    from .data import family_of
    fam = family_of(task, given.get("family"))
    own = fam.training.SIZE_FLAGS
    foreign = [flag(k) for k in size_flags() if given.get(k) is not None and k not in own]
    if foreign:
        raise UsageError(f"{', '.join(foreign)}: not a size of the {fam.name} family ({how}); "
                         f"its size flags are {', '.join(own.values())}")
    return fam.training


def _check_family_name(task, family):
    """--family names a family that trains the task (one line naming them otherwise)."""
    from .data import families_of
    if family is not None and family not in families_of(task):
        raise UsageError(f"--family {family}: expected one of "
                         f"{', '.join(families_of(task))} (the families that train {task})")


def _family_name(task, family):
    from .data import family_of
    return family_of(task, family).name


def _flag_of(key):
    if key.startswith("options."):
        name = key[len("options."):]
        return "--width" if name == "width" else f"--option {name}"
    return flag(key)


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
        print(f"warning: {flag(key)} {value} replaces the saved {old}; {effect}; the run "
              f"is no longer the one its first command describes", file=sys.stderr)
    for key in ("lo", "hi", "lr", "lr_halve_every", "clip", "curriculum", "backend", "dtype"):
        if given[key] is not None and given[key] != saved.get(key):
            old = "default" if saved.get(key) is None else f"saved {saved.get(key)}"
            print(f"note: {flag(key)} {given[key]} replaces the {old}", file=sys.stderr)
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
    from .data import hook
    from .loop import model_config
    check_task_range(settings["task"], settings["options"], settings["lo"], settings["hi"],
                     family=settings.get("family"))
    if settings.get("curriculum") and settings["lo"] == settings["hi"]:
        print("note: --curriculum has nothing to do when --lo equals --hi", file=sys.stderr)
    family = hook(settings["task"], settings.get("family"))
    try:
        family.check_sizes({k: settings[k] for k in family.SIZE_FLAGS})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
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
        task = model.task["name"]
        from .data import model_family
        if args.family is not None and args.family != model_family(model):
            raise UsageError(f"--family {args.family}: the --resume model is a "
                             f"{model_family(model)} model; leave --family out")
        given["family"] = model_family(model)
        try:
            _check_family(task, given, f"the --resume model's task is {task}")
        except ValueError:
            raise UsageError(f"--resume {args.resume}: its task {task!r} is not one "
                             f"diffmem trains (tasks: {', '.join(task_names())})") from None
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
        if args.save_to and os.path.exists(save_to) and not args.overwrite and \
                os.path.abspath(save_to) != os.path.abspath(pretrained.resolve(args.resume)):
            raise UsageError(f"--save-to {save_to}: exists and is not the --resume file; "
                             f"choose another --save-to, or add --overwrite")
    else:
        if args.task is None:
            raise UsageError("--task: expected one of " + ", ".join(task_names()) +
                             " (or --resume MODEL)")
        if args.override_saved:
            raise UsageError("--override-saved: only with --resume")
        _check_family_name(args.task, args.family)
        family = _check_family(args.task, given, f"task {args.task}")
        settings = {k: v for k, v in given.items()
                    if k not in size_flags() or k in family.SIZE_FLAGS}
        settings["family"] = _family_name(args.task, args.family)
        lo, hi = family.default_range(args.task)
        defaults = dict(TRAIN_DEFAULTS, lo=lo, hi=hi, **family.DEFAULTS)
        for key, value in defaults.items():
            if settings.get(key) is None:
                settings[key] = value
        if settings["steps"] is None and settings["sequences"] is None:
            settings["steps"] = DEFAULT_STEPS
        settings["steps"] = settings["steps"] or 0
        settings["sequences"] = settings["sequences"] or 0
        task = args.task
        if args.save_to is None:
            _final_checks(settings)    # the default name needs the model
            from .loop import model_config
        save_to = args.save_to or f"{model_config(settings).model}-{task}.npz"
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
    print(f"task {task} {trainer.settings['options']}  {trainer.hook.describe_long(cfg)}; "
          f"{trainer.engine.name} engine, {trainer.settings['optimizer']} lr "
          f"{trainer.optimizer.lr:g}, batch {trainer.settings['batch_size']}; "
          f"starting at step {trainer.steps}; saving to {save_to}", file=sys.stderr)
    _stop_on_signals()
    try:
        trainer.run(progress=not args.no_progress)
    except FloatingPointError as exc:   # a diverged run, not a bug: its state was saved
        print(f"diffmem train: {exc}", file=sys.stderr)
        return 1
    except ModelSaveError as exc:   # a full disk: what was saved before is kept
        print(f"diffmem train: --save-to {exc}", file=sys.stderr)
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
