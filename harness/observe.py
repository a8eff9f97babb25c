"""What a run shows beyond its verdict: notes a kernel author wants even on a pass.

- **float64-exact low-precision results**: a float32 (or lower) run whose every required
  tensor sits far closer to the float64 reference than the reference's own float32 run
  computed in a higher precision than it was asked for (an upcast, float64
  accumulation): it passes, and its speed and memory are not what the precision claims.
- **modified inputs**: a backend that writes into the arrays it was handed (an in-place
  update of the parameters or the inputs) corrupts its caller's data; the harness hands
  it copies, so it finds out by comparing them afterwards.
- **nondeterminism**: the repeated call (``repeat/...``) is compared with the first one
  directly, so a repeat failure says that the calls disagree, and by how much, rather
  than only that the second one is off.

Each function returns a note (one line) or None; ``compare.run_case`` collects them in
``CaseResult.observations``.
"""

from __future__ import annotations

import numpy as np

# A float32 computation lands within a thousandth of the reference's own float32 error on
# a tensor only by chance; on every required tensor of a case at once, not by chance.
HIGHER_PRECISION = 1e-3
_PARTS = ("logits", "loss", "grads", "grad_inputs")


def given_arrays(case) -> dict:
    """Copies of everything a backend is handed: {"params": {name: array}, "inputs",
    "targets", "mask"}."""
    return {"params": {k: np.array(v, copy=True) for k, v in case.params.items()},
            "inputs": np.array(case.inputs, copy=True),
            "targets": np.array(case.targets, copy=True),
            "mask": np.array(case.mask, copy=True)}


def _flat(arrays) -> dict:
    out = {f"params[{k!r}]": v for k, v in arrays["params"].items()}
    out.update((k, arrays[k]) for k in ("inputs", "targets", "mask"))
    return out


def modified(case, given: dict) -> str | None:
    """The note for arrays the backend changed in place (``given`` from ``given_arrays``,
    handed to it; compared with the case's own, which it never saw)."""
    original, given = _flat(given_arrays(case)), _flat(given)
    changed = [name for name, a in given.items()
               if not isinstance(a, np.ndarray) or a.shape != original[name].shape
               or not np.array_equal(a, original[name], equal_nan=True)]
    if not changed:
        return None
    return (f"the backend modified the arrays it was given: {', '.join(changed)} (a caller's "
            f"data would be corrupted; copy before writing in place)")


def _arrays(result) -> dict:
    """name -> numpy array of a Result's required parts (what is well-formed of them)."""
    out = {}
    for part in _PARTS:
        value = result.get(part) if isinstance(result, dict) else getattr(result, part, None)
        if isinstance(value, dict):
            out.update({f"grads/{k}": v for k, v in value.items() if isinstance(v, np.ndarray)})
        elif isinstance(value, np.ndarray):
            out[part] = value
    return out


def nondeterministic(first, second) -> str | None:
    """The note for a repeated call whose results differ from the first call's."""
    a, b = _arrays(first), _arrays(second)
    worst = None
    for name in a:
        if name not in b or a[name].shape != b[name].shape:
            continue
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        if np.array_equal(x, y, equal_nan=True):
            continue
        with np.errstate(invalid="ignore"):
            diff = float(np.nanmax(np.abs(x - y))) if x.size else 0.0
        scale = float(np.nanmax(np.abs(x))) if x.size else 0.0
        rel = diff / scale if scale > 0 else float("inf")
        if worst is None or rel > worst[2]:
            worst = (name, diff, rel)
    if worst is None:
        return None
    name, diff, rel = worst
    return (f"nondeterministic: call 1 and call 2 differ by {diff:.3g} in {name} (max "
            f"|difference|, {rel:.3g} of its scale) on the same inputs")


def higher_precision(reports, dtype) -> str | None:
    """The note for a low-precision run whose results are float64-exact."""
    if dtype == "float64":
        return None
    required = [r for r in reports if r.check in _PARTS and r.max_abs is not None]
    measured = [r for r in required if r.err32]
    if not measured or len(required) < len(_PARTS) - 1:
        return None
    worst = max(required, key=lambda r: r.max_abs / r.err32 if r.err32 else
                (0.0 if r.max_abs == 0 else np.inf))
    closeness = worst.max_abs / worst.err32 if worst.err32 else np.inf
    if closeness > HIGHER_PRECISION:
        return None
    return (f"{dtype} results are float64-exact: every required tensor is at most "
            f"{closeness:.2g} times as far from the float64 reference as the reference's own "
            f"{dtype} run (worst: {worst.tensor}); the backend computes in a higher "
            f"precision than {dtype}")
