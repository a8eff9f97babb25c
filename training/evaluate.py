"""Testing a saved model on fresh sequences: its family's metrics over a batch, and one
sequence's trace (through the reference) for the text view and the picture."""

import math

import numpy as np

from diffmem.models import bind

from . import data
from .engine import make_engine
from .loop import example_run


def evaluate(model, lo, hi, batch=32, seed=0, backend="reference"):
    """Run ``model`` on ``batch`` fresh sequences with the task's knob in lo..hi.

    Returns a dict: ``bits`` (mean per sequence), ``metrics`` (the family's, e.g.
    ``{"errors": ...}`` for the NTM, ``{"coarse", "fine"}`` for the stack family), each
    metric also under its own key, ``bayes_bits`` (or None), the batch (``inputs``,
    ``targets``, ``mask``, ``logits``, ``loss``) and ``example``: the first sequence
    without its padding, with its reference ``trace`` (the ``run`` the views draw).
    """
    task, options = model.task["name"], model.task.get("options", {})
    hook = data.hook(task)
    rng = np.random.default_rng(seed)
    inputs, targets, mask = data.batch(task, rng, batch, lo, hi, options)
    if backend == "reference":
        out = bind(model.config).run_reference(model.params, inputs, targets, mask,
                                               want_trace=False, want_grads=False)
        loss, logits = np.asarray(out["loss"]), np.asarray(out["logits"])
    else:
        loss, logits, _ = make_engine(backend, model.config).loss_and_grads(
            model.params, inputs, targets, mask)
    bayes = hook.optimal_cost(task, inputs, targets, mask, options)
    scores = hook.metrics(logits, targets, mask, task, options, inputs=inputs)
    example = example_run(model.config, model.params, inputs[0], targets[0], mask[0], task,
                          options)
    return {
        "bits": float(np.mean(loss)) / math.log(2.0),
        "metrics": scores, **scores,
        "bayes_bits": None if bayes is None else float(np.mean(bayes)) / math.log(2.0),
        "inputs": inputs, "targets": targets, "mask": mask, "logits": logits, "loss": loss,
        "example": example,
    }
