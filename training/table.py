"""The table of the pretrained models (docs/results.md), made by testing them (never by hand).

``diffmem pretrained table`` or ``python -m diffmem.training.table``.  Per task: the
model's sizes, its training lengths, and its bits and bit errors per sequence on fresh
sequences (through the reference, float64) on the training range and beyond it.
Goals (issue 5): copy under 1 bit error per sequence at twice its longest training
length; repeat copy and associative recall under 1 bit error per sequence beyond their
training ranges; dynamic n-grams within 5 % of the Bayes-optimal cost on the same
sequences; priority sort reported as it is.
"""

import os
import sys

from .evaluate import evaluate
from .modelfile import load_model


def pretrained_folder():
    from diffmem.pretrained import folder
    return folder()


def test_ranges(task, lo, hi):
    """(lo, hi, kind): the training range, then beyond it (copy also exactly 2 x hi).

    Beyond is up to twice the longest training length for the sequence tasks, and two
    items more for the item-count tasks, whose memory (N rows) holds only a few more.
    """
    ranges = [(lo, hi, "train")]
    if task == "dynamic_ngrams":   # the knob is the sequence length; beyond = longer
        ranges.append((2 * hi, 2 * hi, "beyond"))
    elif task in ("associative_recall", "priority_sort"):
        ranges.append((hi + 1, hi + 2, "beyond"))
    else:
        ranges.append((hi + 1, 2 * hi, "beyond"))
    if task == "copy":
        ranges.append((2 * hi, 2 * hi, "2x"))
    return ranges


def goal(task, kind, result):
    """'yes'/'no' against the issue's goal for this row, '' where the row has none."""
    if task == "copy" and kind == "2x":
        return "yes" if result["errors"] < 1 else "no"
    if task in ("repeat_copy", "associative_recall") and kind == "beyond":
        return "yes" if result["errors"] < 1 else "no"
    if task == "dynamic_ngrams":
        return "yes" if result["bits"] <= 1.05 * result["bayes_bits"] else "no"
    return ""


def describe(model):
    """'width=4; N=24 M=8 feedforward 100': the task options, then the family's sizes."""
    from .data import hook
    opts = model.task.get("options", {})
    shown = ", ".join(f"{k}={v}" for k, v in sorted(opts.items()))
    from .data import model_family
    sizes = hook(model.task["name"], model_family(model)).describe(model.config)
    return f"{shown}; {sizes}" if shown else sizes


def pretrained_table(folder=None, batch=64, seed=2024):
    folder = folder or pretrained_folder()
    lines = ["| task | model | trained (steps, sequences) | training lengths | test lengths "
             "| bits/seq | bit errors/seq | Bayes-optimal bits/seq | model/optimal | goal |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    from diffmem.models import family_named
    for task in family_named("ntm").training.TASKS:
        path = os.path.join(folder, f"{task}.npz")
        if not os.path.exists(path):
            lines.append(f"| {task} | (no model file) | | | | | | | | |")
            continue
        model = load_model(path)
        tr = model.header["training"]
        for lo, hi, kind in test_ranges(task, tr["lo"], tr["hi"]):
            r = evaluate(model, lo, hi, batch=batch, seed=seed)
            bayes = "" if r["bayes_bits"] is None else f"{r['bayes_bits']:.3f}"
            ratio = "" if r["bayes_bits"] is None else f"{r['bits'] / r['bayes_bits']:.4f}"
            lines.append(f"| {task} | {describe(model)} | {model.header['steps']}, "
                         f"{model.header['sequences']} | {tr['lo']}..{tr['hi']} | {lo}..{hi} "
                         f"| {r['bits']:.3f} | {r['errors']:.3f} | {bayes} | {ratio} "
                         f"| {goal(task, kind, r)} |")
    lines.append("")
    lines.append(f"{batch} fresh sequences per row (seed {seed}), run by the reference in "
                 f"float64; lengths are each task's knob (copy, repeat copy, n-grams: "
                 f"sequence length; associative recall, priority sort: number of items).")
    from diffmem.models import families
    for fam in families().values():
        if fam.name != "ntm" and fam.training is not None and fam.training.pretrained():
            lines += [""] + family_table(fam.training, folder, batch, seed)
    return "\n".join(lines)


def family_table(hook, folder, batch, seed):
    """The rows of another family's pretrained models (``TrainingHook.pretrained``; in
    ``folder`` as ``<name>.npz`` when one is given): its metrics on its training range and
    beyond it (``TrainingHook.test_ranges``)."""
    labels = [label for _, label, _ in hook.METRICS]
    lines = ["| model | task | sizes | trained (steps, sequences) | training range | test range "
             "| bits/seq | " + " | ".join(labels) + " |", "|---" * (7 + len(labels)) + "|"]
    for name, path in hook.pretrained().items():
        path = os.path.join(folder, f"{name}.npz") if folder else os.fspath(path)
        if not os.path.exists(path):
            lines.append(f"| {name} | (no model file) |" + " |" * (5 + len(labels)))
            continue
        model = load_model(path)
        tr, task = model.header["training"], model.task["name"]
        for lo, hi in hook.test_ranges(task, tr["lo"], tr["hi"]):
            r = evaluate(model, lo, hi, batch=batch, seed=seed)
            scores = " | ".join(f"{r[key]:{form}}" for key, _, form in hook.METRICS)
            lines.append(f"| {name} | {task} | {describe(model)} | {model.header['steps']}, "
                         f"{model.header['sequences']} | {tr['lo']}..{tr['hi']} | {lo}..{hi} "
                         f"| {r['bits']:.3f} | {scores} |")
    return lines


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="python -m diffmem.training.table",
                                description="The same as `diffmem pretrained table`.")
    p.add_argument("--folder", help="folder of <task>.npz model files")
    p.add_argument("--batch-size", "--batch", type=int, default=64,
                   help="fresh sequences per row (default 64)")
    p.add_argument("--seed", type=int, default=2024, help="seed of the test data (default 2024)")
    args = p.parse_args(argv)
    print(pretrained_table(args.folder, args.batch_size, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
