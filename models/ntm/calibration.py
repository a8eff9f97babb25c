"""The NTM's random cases for ``diffmem calibrate`` (HARNESS.md 4).

Random cases draw a configuration (controller, 1-3 read and write heads, a shift set,
N 1..32, M 2..8, H 2..16, T 1..60, B 1..2) and then, per case, fresh parameters (seed,
regime init / sharp / extreme_logits, sometimes zero memory rows) and data (random or
one of the five tasks).  Cases share their configuration in groups: JAX compiles once
per (configuration, B, T), which is most of a calibration's time.
"""

import numpy as np

from diffmem.models.hooks import CalibrationHook

from . import reference as ntm
from . import tasks
from .heldout import SHIFT_SETS
from .reference import REGIMES

TASKS = ("random", "copy", "repeat_copy", "associative_recall", "dynamic_ngrams",
         "priority_sort")


def _data(rng, draw, cfg):
    B, T = draw["batch"], draw["steps"]
    if draw["task"] == "random":
        inputs = rng.standard_normal((B, T, cfg.X))
        targets = rng.uniform(size=(B, T, cfg.Y))
        lengths = rng.integers(1, T + 1, size=B)
        mask = (np.arange(T)[None, :] < lengths[:, None]) * rng.uniform(0, 2, size=(B, T))
        return inputs, targets, mask
    lo = 2   # the shortest every task accepts (dynamic_ngrams needs 2 bits, recall 2 items)
    inputs, targets, mask, _ = tasks.make_batch(draw["task"], rng, B, lo, lo + 3,
                                                **draw["options"])
    pad = max(0, T - inputs.shape[1])   # fit the group's [B, T]: pad, or cut the tail

    def fit(a):
        return np.pad(a, ((0, 0), (0, pad)) + ((0, 0),) * (a.ndim - 2))[:, :T]
    return fit(inputs), fit(targets), fit(mask)


class NTMCalibration(CalibrationHook):
    """Random NTM configurations and cases (module docstring)."""

    # ``--small``: the same draws, clipped to these, so a seed's configurations correspond.
    SMALL_LIMITS = {"N": 8, "M": 6, "H": 8, "T": 12}

    def random_config(self, rng, small=False) -> dict:
        """A configuration, its data source and its [B, T] (``small``: clipped to
        ``SMALL_LIMITS``)."""
        task = str(rng.choice(TASKS))
        if task == "random":
            options = {"input_size": int(rng.integers(1, 7)), "output_size": int(rng.integers(1, 5))}
        elif task == "dynamic_ngrams":
            options = {}
        else:
            options = {"width": int(rng.integers(2, 6))}
        X, Y = tasks.task_sizes(task, **options)
        config = dict(input_size=X, output_size=Y, controller_size=int(rng.integers(2, 17)),
                      memory_rows=int(rng.choice([1, 2, 3, int(rng.integers(4, 33))])),
                      memory_width=int(rng.integers(2, 9)), read_heads=int(rng.integers(1, 4)),
                      write_heads=int(rng.integers(1, 4)),
                      shifts=list(SHIFT_SETS[int(rng.integers(len(SHIFT_SETS)))]),
                      controller=str(rng.choice(["feedforward", "lstm"])), model="ntm")
        steps = int(rng.choice([int(rng.integers(1, 9)), int(rng.integers(9, 61))]))
        if small:
            limits = self.SMALL_LIMITS
            config.update(memory_rows=min(config["memory_rows"], limits["N"]),
                          memory_width=min(config["memory_width"], limits["M"]),
                          controller_size=min(config["controller_size"], limits["H"]))
            steps = min(steps, limits["T"])
        return {"config": config, "task": task, "options": options,
                "batch": int(rng.integers(1, 3)), "steps": steps}

    def random_case(self, seed, group, index, draw):
        """One freshly seeded case of a group: (name, config, params, inputs, targets, mask)."""
        rng = np.random.default_rng([seed, group, index])
        cfg = ntm.NTMConfig.from_dict(draw["config"])
        regime = REGIMES[int(rng.integers(len(REGIMES)))]
        params = ntm.init_params(cfg, int(rng.integers(2**31)), regime)
        if rng.uniform() < 0.2:   # zero memory rows: the DELTA in the norm
            params["init.memory"][rng.uniform(size=cfg.N) < 0.5] = 0.0
        inputs, targets, mask = _data(rng, draw, cfg)
        name = f"cal-{seed}-{group}-{index}-{'lstm' if cfg.controller == 'lstm' else 'ff'}" \
               f"-N{cfg.N}-T{inputs.shape[1]}-{regime}-{draw['task']}"
        return name, cfg, params, inputs, targets, mask


CALIBRATION = NTMCalibration()
