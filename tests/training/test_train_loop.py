"""The training loop on a tiny copy model: loss goes down, resume is exact, grad check."""

import math

import numpy as np
import pytest

from diffmem.models.ntm.reference import run_batch
from diffmem.training import data
from diffmem.training.loop import Trainer, grad_check
from diffmem.training.modelfile import load_model


def settings(tmp_path, **changes):
    s = {"task": "copy", "options": {"width": 2}, "N": 6, "M": 4, "controller": "feedforward",
         "units": 12, "read_heads": 1, "write_heads": 1, "lo": 1, "hi": 3, "curriculum": None,
         "optimizer": "adam", "lr": 1e-2, "lr_halve_every": None, "clip": 10.0,
         "backend": "torch", "dtype": None, "batch_size": 8, "seed": 5, "steps": 40,
         "sequences": 0, "save_every": 0, "log_every": 0, "view": False, "grad_check": False,
         "save_to": str(tmp_path / "tiny.npz"), "command": "test"}
    s.update(changes)
    return s


def quiet(*_):
    pass


def held_out_loss(trainer):
    rng = np.random.default_rng(99)
    x, z, m = data.batch("copy", rng, 32, 1, 3, {"width": 2})
    return float(run_batch(trainer.cfg, trainer.params, x, z, m, want_trace=False,
                           want_grads=False)["loss"].mean())


def test_training_lowers_the_loss(tmp_path):
    trainer = Trainer(settings(tmp_path, steps=15, lr=3e-2), out=quiet)
    before = held_out_loss(trainer)
    trainer.run(progress=False)
    after = held_out_loss(trainer)
    # 15 Adam steps on a tiny copy model: a clear drop on sequences it never saw.
    assert after < 0.9 * before, (before, after)
    model = load_model(settings(tmp_path)["save_to"])
    assert model.header["steps"] == 15 and model.header["sequences"] == 120
    assert model.header["stopped"] == "completed"
    assert math.isfinite(model.header["metrics"]["bits"])


def test_resume_continues_exactly(tmp_path):
    straight = Trainer(settings(tmp_path, steps=6, save_to=str(tmp_path / "a.npz")), out=quiet)
    straight.run(progress=False)
    first = Trainer(settings(tmp_path, steps=3, save_to=str(tmp_path / "b.npz")), out=quiet)
    first.run(progress=False)
    resumed = Trainer(dict(settings(tmp_path, steps=6, save_to=str(tmp_path / "b.npz")),
                           task=None, N=None), resume=str(tmp_path / "b.npz"), out=quiet)
    assert resumed.steps == 3 and resumed.sequences == 24
    resumed.run(progress=False)
    assert resumed.steps == 6
    a, b = load_model(str(tmp_path / "a.npz")), load_model(str(tmp_path / "b.npz"))
    assert b.header["steps"] == 6 and b.header["sequences"] == 48
    for k in a.params:  # same data, same optimizer state: the same parameters
        np.testing.assert_allclose(b.params[k], a.params[k], rtol=0, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_engine_gradients_match_the_reference(tmp_path, backend):
    trainer = Trainer(settings(tmp_path, backend=backend), out=quiet)
    x, z, m = data.batch("copy", np.random.default_rng(0), 4, 1, 3, {"width": 2})
    loss, _, grads = trainer.engine.loss_and_grads(trainer.params, x, z, m)
    ref = run_batch(trainer.cfg, trainer.params, x, z, m, want_trace=False, want_grads=True)
    np.testing.assert_allclose(loss, ref["loss"], rtol=1e-5)
    worst, where = grad_check(trainer.cfg, trainer.params, grads, x, z, m)
    assert worst < 1e-4, f"{backend}: worst relative gradient error {worst} in {where}"


def test_lr_halving(tmp_path):
    trainer = Trainer(settings(tmp_path, lr_halve_every=2, steps=5), out=quiet)
    trainer.run(progress=False)
    # The 5th step ran at steps = 4 done: halved twice.
    assert trainer.optimizer.lr == pytest.approx(1e-2 / 4)


def test_curriculum_lengthens_when_below_threshold(tmp_path):
    trainer = Trainer(settings(tmp_path, curriculum=0.5, lo=1, hi=3), out=quiet)
    assert trainer.max_len == 1
    trainer._window = [(0.1, 0.0)] * 50
    trainer.metrics["bits"] = 0.1 / math.log(2)
    trainer.advance_curriculum()
    assert trainer.max_len == 2 and trainer._window == []
    trainer._window = [(9.0, 3.0)] * 50
    trainer.metrics["bits"] = 9.0 / math.log(2)
    trainer.advance_curriculum()
    assert trainer.max_len == 2
