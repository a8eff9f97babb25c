"""Running a family's batched form (or a bug subclass of it) through the bundled torch and
JAX backends, with the result as a dict shaped like the reference's ``run_batch``."""

import importlib

import pytest


def run_backend(framework, model_cls, cfg, params, inputs, targets, mask, dtype="float64"):
    backend = importlib.import_module(f"diffmem.backends.{framework}").make_backend(
        "cpu", dtype, model_cls=model_cls)
    r = backend.run(cfg, params, inputs, targets, mask, want_trace=True, want_grads=True)
    return {"logits": r.logits, "loss": r.loss, "trace": r.trace, "grads": r.grads,
            "grad_inputs": r.grad_inputs}


@pytest.fixture
def drivers():
    """{"torch": run, "jax": run}, ``run(model_cls, cfg, params, inputs, targets, mask,
    dtype="float64")``."""
    return {name: (lambda *args, name=name, **kw: run_backend(name, *args, **kw))
            for name in ("torch", "jax")}
