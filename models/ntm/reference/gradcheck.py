"""Finite-difference check of the reference's gradients, and ``diffmem gradcheck``.

The reference's gradients come from autograd; this module checks them against the
loss itself, by central finite differences in float64, for every parameter tensor and
for the inputs.  Nothing here uses autograd: a wrong VJP cannot hide behind itself.

Per tensor it compares (a) single elements, a random subset that always includes the
element with the largest gradient, and (b) directional derivatives along a few random
dense directions (a dense direction sees every element at once).  The difference
quotient is the 4-point one, (8[f(x+h) - f(x-h)] - [f(x+2h) - f(x-2h)]) / 12h, whose
truncation error is O(h^4), far below the 1e-6 bound at the steps below, while its
rounding error stays ~1e-15 |loss| / h.

The relative error of one comparison is |autograd - fd| / max(|autograd|, |fd|, floor).
The floor is the larger of 1e-3 * the tensor's largest |gradient| (an element whose
gradient is a millionth of its neighbours' is judged against the tensor's scale) and
the smallest derivative finite differences can resolve to BOUND at all: rounding of
the loss, ~10 ulp * |loss|, divided by h, over BOUND.

Step h: 1e-4, except 1e-6 in the sharp regime, where gamma ~ 11 raises weights to the
11th power and the loss bends on a scale of 1e-4 (h = 1e-4 there is off by O(1)).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .config import NTMConfig
from .params import init_params
from .run import run_sequence

STEP = 1e-4          # finite-difference step h
SHARP_STEP = 1e-6    # in the sharp regime (see above)
ROUNDING = 1e-15     # relative rounding error of one loss evaluation (~10 ulp)
BOUND = 1e-6         # worst relative error allowed
FLOOR = 1e-3         # relative to the tensor's largest |gradient|
INPUTS = "inputs"    # the name under which the gradient w.r.t. the inputs is reported


@dataclass(frozen=True)
class Case:
    """One configuration of the check: a config, a parameter regime and data sizes."""
    name: str
    config: dict
    regime: str = "init"
    T: int = 5
    seed: int = 0
    elements: int = 6        # single elements compared per tensor
    directions: int = 2      # random dense directions per tensor

    @property
    def step(self) -> float:
        return SHARP_STEP if self.regime == "sharp" else STEP

    def cfg(self) -> NTMConfig:
        return NTMConfig(**self.config)


def _case(name, regime="init", T=5, **config):
    base = dict(input_size=3, output_size=2, controller_size=5, memory_rows=5,
                memory_width=3)
    return Case(name, {**base, **config}, regime, T)


WIDE = (-2, -1, 0, 1, 2)

# The spread a self-check needs: both controllers; 1 and 2 heads of each kind; a shift
# set wider than {-1, 0, 1}; N = 1 and N = 2 (offsets that wrap onto the same row add);
# the sharp regime (near one-hot attention) and extreme output logits.
CASES = (
    _case("ff", controller="feedforward"),
    _case("lstm", controller="lstm"),
    _case("ff-2r2w-wide", controller="feedforward", read_heads=2, write_heads=2, shifts=WIDE),
    _case("lstm-2r2w-wide", controller="lstm", read_heads=2, write_heads=2, shifts=WIDE,
          memory_rows=4),
    _case("ff-1r2w", controller="feedforward", write_heads=2, memory_rows=4),
    _case("lstm-2r1w", controller="lstm", read_heads=2, memory_rows=4),
    _case("ff-N1", controller="feedforward", memory_rows=1),
    _case("lstm-N1-wide", controller="lstm", memory_rows=1, shifts=WIDE),
    _case("ff-N2-wide", controller="feedforward", memory_rows=2, shifts=WIDE, read_heads=2),
    _case("lstm-N2", controller="lstm", memory_rows=2, write_heads=2),
    _case("ff-sharp", "sharp", controller="feedforward", memory_rows=6),
    _case("lstm-sharp-2r2w-wide", "sharp", controller="lstm", read_heads=2, write_heads=2,
          shifts=WIDE, memory_rows=6),
    _case("ff-extreme-logits", "extreme_logits", controller="feedforward"),
    # M = 1 and S = 1: a key, erase, add or shift of width 1 is still a vector per head.
    _case("ff-M1-S1", controller="feedforward", memory_width=1, shifts=(1,), write_heads=2),
)


def case_data(case: Case, cfg: NTMConfig):
    """Parameters and a sequence for a case: real-valued inputs, soft targets in
    [0, 1], and a mask with a zero and a non-unit weight (both allowed by NTM.md)."""
    params = init_params(cfg, case.seed, case.regime)
    rng = np.random.default_rng(case.seed + 1)
    inputs = rng.standard_normal((case.T, cfg.X))
    targets = rng.uniform(0.0, 1.0, (case.T, cfg.Y))
    mask = np.ones(case.T)
    mask[0] = 0.0
    mask[-1] = 2.0
    return params, inputs, targets, mask


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


def check_case(case: Case):
    """All tensors of one case: a list of TensorCheck, parameters first, then inputs."""
    cfg = case.cfg()
    params, inputs, targets, mask = case_data(case, cfg)
    ran = run_sequence(cfg, params, inputs, targets, mask, want_trace=False)
    h = case.step
    noise = noise_floor(ran["loss"], h)
    rng = np.random.default_rng(case.seed + 2)
    checks = []
    for name, value in params.items():
        def loss_of(v, name=name):
            return run_sequence(cfg, {**params, name: v}, inputs, targets, mask,
                                want_trace=False, want_grads=False)["loss"]
        checks.append(check_tensor(loss_of, value, ran["grads"][name], name, rng,
                                   case.elements, case.directions, h, noise))

    def loss_of_inputs(v):
        return run_sequence(cfg, params, v, targets, mask, want_trace=False,
                            want_grads=False)["loss"]
    checks.append(check_tensor(loss_of_inputs, inputs, ran["grad_inputs"], INPUTS, rng,
                               case.elements, case.directions, h, noise))
    return checks


# ---------------------------------------------------------------- command line

def _short(name):
    return name.replace("controller.", "ctrl.").replace("interface.", "iface.") \
        .replace("output.", "out.").replace("_logits", "_lg")


def run_gradcheck(cases=CASES, bound=BOUND, out=print):
    """Check every case, print a table (worst relative error per tensor); returns
    (passed, worst TensorCheck overall)."""
    worst_overall, passed = None, True
    header = None
    for case in cases:
        start = time.perf_counter()
        checks = check_case(case)
        seconds = time.perf_counter() - start
        if header is None:
            names = [_short(c.name) for c in checks]
            header = f"{'config':22s} {'regime':14s}" + "".join(f"{n:>13s}" for n in names) \
                + f"{'worst':>10s}  result"
            out(header)
        worst = max(checks, key=lambda c: c.worst)
        ok = all(c.worst <= bound for c in checks)
        passed &= ok
        if worst_overall is None or worst.worst > worst_overall[1].worst:
            worst_overall = (case, worst)
        row = f"{case.name:22s} {case.regime:14s}" + "".join(f"{c.worst:13.1e}" for c in checks)
        out(row + f"{worst.worst:10.1e}  {'pass' if ok else 'FAIL'} ({seconds:.1f} s)")
        if not ok:
            for c in checks:
                if c.worst > bound:
                    out(f"    {c.describe()} > bound {bound:.0e}")
    case, worst = worst_overall
    out(f"\nworst: {case.name}: {worst.describe()}  (bound {bound:.0e}, step h = {case.step:g}, "
        f"4-point central differences in float64)")
    out("gradcheck " + ("passed" if passed else "FAILED"))
    return passed, worst


def _command(args):
    cases = CASES
    if args.only:
        cases = [c for c in CASES if any(s in c.name for s in args.only)]
        if not cases:
            from diffmem.usage import UsageError
            raise UsageError(f"--only {' '.join(args.only)}: no configuration's name "
                             f"contains it; they are {', '.join(c.name for c in CASES)}")
    passed, _ = run_gradcheck(cases, args.bound)
    return 0 if passed else 1


def add_commands(subparsers):
    p = subparsers.add_parser(
        "gradcheck",
        help="check the reference's gradients against finite differences (self-check)",
        description="Compare the reference's autograd gradients with 4-point central "
                    f"finite differences in float64, for every parameter tensor and the "
                    f"inputs, over {len(CASES)} configurations: feedforward and LSTM "
                    f"controllers, 1 and 2 heads of each kind, shifts (-2..2), N = 1 and 2, "
                    f"and the sharp regime.  Prints the "
                    "worst relative error per tensor; exits 1 if any exceeds the bound.")
    p.add_argument("--bound", type=float, default=BOUND,
                   help=f"worst relative error allowed (default {BOUND:g})")
    p.add_argument("--only", nargs="+", metavar="NAME",
                   help="run only the cases whose name contains one of these strings")
    p.set_defaults(func=_command)
