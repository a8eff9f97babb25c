"""Finite-difference check of a reference's gradients: the engine of ``diffmem gradcheck``.

A family's reference computes gradients by autograd; this module checks them against the
loss itself, by central finite differences in float64, for every parameter tensor and
for the inputs.  Nothing here uses autograd: a wrong VJP cannot hide behind itself.

Per tensor it compares (a) single elements, a random subset that always includes the
element with the largest gradient, and (b) directional derivatives along a few random
dense directions (a dense direction sees every element at once).  The difference
quotient is the 4-point one, (8[f(x+h) - f(x-h)] - [f(x+2h) - f(x-2h)]) / 12h, whose
truncation error is O(h^4), far below the 1e-6 bound at h = 1e-4, while its rounding
error stays ~1e-15 |loss| / h.

The relative error of one comparison is |autograd - fd| / max(|autograd|, |fd|, floor).
The floor is the larger of 1e-3 * the tensor's largest |gradient| (an element whose
gradient is a millionth of its neighbours' is judged against the tensor's scale) and
the smallest derivative finite differences can resolve to BOUND at all: rounding of
the loss, ~10 ulp * |loss|, divided by h, over BOUND.

Finite differences see the function, not the spec's choice at a discontinuity: a case
must sit away from kinks and ties (a family's ``gradcheck_cases`` says how its cases do;
its hand-worked tests cover the ties).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

STEP = 1e-4          # finite-difference step h
ROUNDING = 1e-15     # relative rounding error of one loss evaluation (~10 ulp)
BOUND = 1e-6         # worst relative error allowed
FLOOR = 1e-3         # relative to the tensor's largest |gradient|
INPUTS = "inputs"    # the name under which the gradient w.r.t. the inputs is reported


def derivative(f, x, direction, h=STEP):
    """d/de f(x + e * direction) at e = 0 by the 4-point central difference."""
    def at(e):
        return float(f(x + e * direction))
    return (8.0 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12.0 * h)


def relative_error(analytic, numeric, floor):
    """|analytic - numeric| / max(|analytic|, |numeric|, floor); NaN counts as inf."""
    err = abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor, 1e-300)
    return err if np.isfinite(err) else np.inf


@dataclass
class TensorCheck:
    """Worst comparison for one tensor: its relative error and where it happened."""
    name: str
    worst: float = 0.0
    where: str = ""
    analytic: float = 0.0
    numeric: float = 0.0
    floor: float = 0.0
    checks: int = 0

    def add(self, where, analytic, numeric, floor):
        err = relative_error(analytic, numeric, floor)
        self.checks += 1
        if err > self.worst or self.checks == 1:
            self.worst, self.where = err, where
            self.analytic, self.numeric, self.floor = analytic, numeric, floor

    def describe(self):
        return (f"{self.name} {self.where}: autograd {self.analytic:.12g}, "
                f"finite difference {self.numeric:.12g}, relative error {self.worst:.2e} "
                f"(of max(|autograd|, |fd|, floor {self.floor:.2g}))")


def noise_floor(loss, h, bound=BOUND):
    """The smallest derivative that h-step differences of this loss resolve to ``bound``."""
    return ROUNDING * max(abs(float(loss)), 1.0) / h / bound


def check_tensor(f, x, grad, name, rng, elements, directions, h=STEP, noise=0.0):
    """Compare ``grad`` (the claimed df/dx) with finite differences of ``f`` at ``x``."""
    result = TensorCheck(name)
    floor = max(FLOOR * float(np.max(np.abs(grad))) if grad.size else 0.0, noise)
    flat = np.abs(grad).ravel()
    picks = {int(np.argmax(flat))} if flat.size else set()
    extra = rng.permutation(flat.size)[:max(elements - 1, 0)]
    picks.update(int(i) for i in extra)
    for i in sorted(picks):
        index = np.unravel_index(i, x.shape)
        direction = np.zeros_like(x)
        direction[index] = 1.0
        result.add(f"element {tuple(int(j) for j in index)}", float(grad[index]),
                   derivative(f, x, direction, h), floor)
    for d in range(directions):
        direction = rng.standard_normal(x.shape)
        analytic = float(np.sum(grad * direction))
        # a dense direction's derivative scales with sqrt(size): so does its floor
        result.add(f"random direction {d}", analytic, derivative(f, x, direction, h),
                   floor * np.sqrt(x.size))
    return result


@dataclass(frozen=True)
class GradcheckCase:
    """One configuration of the check: ``build()`` -> (cfg, params, inputs, targets, mask),
    batched as ``Family.run_reference`` takes them; ``step`` is h (smaller where the loss
    bends on a short scale, e.g. a sharp regime)."""
    name: str
    build: Callable
    regime: str = "init"
    step: float = STEP
    seed: int = 0
    elements: int = 6        # single elements compared per tensor
    directions: int = 2      # random dense directions per tensor


def check_case(case: GradcheckCase, run) -> list:
    """All tensors of one case, parameters first, then the inputs: a list of TensorCheck.
    ``run(cfg, params, inputs, targets, mask, want_grads)`` -> {"loss", "grads",
    "grad_inputs"} is the family's float64 reference without its trace; the loss checked
    is its sum over the batch (``grads`` are summed over the batch)."""
    cfg, params, inputs, targets, mask = case.build()
    ran = run(cfg, params, inputs, targets, mask, True)
    h = case.step
    noise = noise_floor(np.sum(ran["loss"]), h)
    rng = np.random.default_rng(case.seed + 2)
    checks = []
    for name, value in params.items():
        def loss_of(v, name=name):
            return np.sum(run(cfg, {**params, name: v}, inputs, targets, mask, False)["loss"])
        checks.append(check_tensor(loss_of, value, ran["grads"][name], name, rng,
                                   case.elements, case.directions, h, noise))

    def loss_of_inputs(v):
        return np.sum(run(cfg, params, v, targets, mask, False)["loss"])
    checks.append(check_tensor(loss_of_inputs, inputs, ran["grad_inputs"], INPUTS, rng,
                               case.elements, case.directions, h, noise))
    return checks
