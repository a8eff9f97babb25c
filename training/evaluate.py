"""Testing a saved model on fresh sequences: metrics over a batch, and one sequence's
trace (through the reference) for the text view and the plot."""

import math

import numpy as np

from diffmem.models.ntm.reference import run_batch, run_sequence
from diffmem.reference.loss import bit_errors

from . import data
from .engine import make_engine
from .loop import sequence_length


def bayes_optimal_cost(task, inputs, targets, mask, options):
    """Per-sequence cost (nats) of the task's Bayes-optimal predictor, where one exists
    (dynamic n-grams, TASKS.md); None otherwise."""
    if task != "dynamic_ngrams":
        return None
    from diffmem.models.ntm import tasks
    return np.asarray(tasks.bayes_optimal_cost(inputs, targets, mask, **options), np.float64)


def evaluate(model, lo, hi, batch=32, seed=0, backend="reference"):
    """Run ``model`` on ``batch`` fresh sequences of lengths lo..hi.

    Returns a dict: ``bits`` and ``errors`` (means per sequence), ``bayes_bits`` (or None),
    the batch (``inputs``, ``targets``, ``mask``, ``logits``, ``loss``) and ``example``: the
    first sequence without its padding, with its reference ``trace``.
    """
    task, options = model.task["name"], model.task.get("options", {})
    rng = np.random.default_rng(seed)
    inputs, targets, mask = data.batch(task, rng, batch, lo, hi, options)
    if backend == "reference":
        out = run_batch(model.config, model.params, inputs, targets, mask,
                        want_trace=False, want_grads=False)
        loss, logits = out["loss"], out["logits"]
    else:
        loss, logits, _ = make_engine(backend, model.config).loss_and_grads(
            model.params, inputs, targets, mask)
    bayes = bayes_optimal_cost(task, inputs, targets, mask, options)
    T = sequence_length(inputs[0], mask[0])
    example = run_sequence(model.config, model.params, inputs[0, :T], targets[0, :T],
                           mask[0, :T], want_grads=False)
    return {
        "bits": float(np.mean(loss)) / math.log(2.0),
        "errors": float(np.mean(bit_errors(logits, targets, mask))),
        "bayes_bits": None if bayes is None else float(np.mean(bayes)) / math.log(2.0),
        "inputs": inputs, "targets": targets, "mask": mask, "logits": logits, "loss": loss,
        "example": {"inputs": inputs[0, :T], "targets": targets[0, :T], "mask": mask[0, :T],
                    "logits": example["logits"], "trace": example["trace"]},
    }
