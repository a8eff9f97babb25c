"""A diffmem model family defined outside diffmem: the whole of it is this package, and
``pyproject.toml``'s one entry point registers it (docs/models.md, "Adding a family")."""

import pathlib

import numpy as np

from diffmem.models import Family, FixtureCase, TaskSet

from . import model, tasks
from .training import TRAINING

HERE = pathlib.Path(__file__).resolve().parent


def _random_case(seed, B, T, H):
    def build():
        cfg = model.ToyConfig(input_size=3, output_size=2, hidden_size=H)
        rng = np.random.default_rng(seed)
        inputs, targets = rng.normal(size=(B, T, 3)), rng.uniform(size=(B, T, 2))
        mask = np.ones((B, T))
        mask[-1, T // 2 + 1:] = 0.0 if B > 1 else 1.0
        meta = {"description": "random data, ragged mask", "summary": f"toy H={H}",
                "tags": ["random"], "regime": "init", "seeds": {"params": seed, "data": seed}}
        return cfg, model.init_params(cfg, seed), inputs, targets, mask, meta
    return build


def _echo_case(seed):
    def build():
        inputs, targets, mask, lengths = tasks.make_batch("toy_echo",
                                                          np.random.default_rng(seed), 2, 3, 6)
        cfg = model.ToyConfig(input_size=3, output_size=3, hidden_size=4)
        meta = {"description": "toy_echo, lengths 3..6", "summary": "toy H=4",
                "tags": ["echo", "ragged"], "regime": "sharp",
                "data": {"task": "toy_echo", "lengths": lengths.tolist()}}
        return cfg, model.init_params(cfg, seed, "sharp"), inputs, targets, mask, meta
    return build


class ToyFamily(Family):
    name = "toy"
    spec_version = model.SPEC_VERSION
    models = ("toy",)
    spec = (HERE / "SPEC.md",)
    config_class = model.ToyConfig
    regimes = model.REGIMES
    batched = model.BatchedToy
    dtypes = ("float64", "float32")
    training = TRAINING
    tasks = TaskSet(tasks.TASKS, tasks.KNOBS, tasks.task_sizes, tasks.make_batch)

    def param_shapes(self, cfg):
        return model.param_shapes(cfg)

    def init_params(self, cfg, seed, regime="init"):
        return model.init_params(cfg, seed, regime)

    def trace_entries(self, cfg):
        return model.trace_entries(cfg)

    def trace_shapes(self, cfg, steps):
        return model.trace_shapes(cfg, steps)

    def run_reference(self, cfg, params, inputs, targets, mask, **options):
        return model.run_reference(cfg, params, inputs, targets, mask, **options)

    def summary(self, cfg):
        return f"toy H={cfg.hidden_size}"

    def cases(self):
        return (FixtureCase("toy-random", "random data, ragged mask", _random_case(1, 2, 5, 3),
                            ("random",), cost=10),
                FixtureCase("toy-echo", "toy_echo, sharp weights", _echo_case(2),
                            ("echo", "ragged"), cost=12))

    def heldout(self, seed, index):
        rng = np.random.default_rng([seed, index])
        B, T, H = (int(rng.integers(1, 4)), int(rng.integers(2, 9)), int(rng.integers(2, 6)))
        return FixtureCase(f"toy-heldout-{seed}-{index}-B{B}-T{T}-H{H}", "random draw",
                           _random_case(int(rng.integers(2**31)), B, T, H), ("random",))

    def bugs(self):
        from .bugs import BUGS
        return BUGS


FAMILY = ToyFamily()
