"""Float32 mode: every output float32, within float32-sized error of float64.

Bounds: float32 rounding is 6e-8 per operation; a short sequence (T <= 6) through a
few hundred operations with condition numbers O(10) stays within ~1e-6 relative to
each array's scale (measured: <= 1.5e-6); the bound is 2e-5.  The sharp regime (gamma
~ 11 amplifies rounding ~11x per sharpening; measured 8e-6) gets 1e-4.
"""

import numpy as np
import pytest

from diffmem.models.ntm.reference import NTMConfig, init_params, run_sequence

CASES = {
    "ff": (NTMConfig(3, 2, 8, 6, 4), "init", 2e-5),
    "lstm-2r2w-wide": (NTMConfig(3, 2, 8, 5, 4, 2, 2, (-2, -1, 0, 1, 2), "lstm"), "init", 2e-5),
    "N1": (NTMConfig(3, 2, 8, 1, 4), "init", 2e-5),
    "sharp": (NTMConfig(3, 2, 8, 6, 4, 1, 1, (-1, 0, 1), "lstm"), "sharp", 1e-4),
}


def scaled_error(got, want):
    return float(np.max(np.abs(got.astype(np.float64) - want))
                 / max(np.max(np.abs(want)), 1e-30))


@pytest.mark.parametrize("name", CASES)
def test_float32_matches_float64_to_float32_precision(name):
    cfg, regime, bound = CASES[name]
    params = init_params(cfg, 1, regime)
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((6, cfg.X)), rng.uniform(0, 1, (6, cfg.Y)), np.ones(6))
    r64 = run_sequence(cfg, params, *data, dtype="float64")
    r32 = run_sequence(cfg, params, *data, dtype="float32")
    arrays32 = {"logits": r32["logits"], "loss": r32["loss"],
                "grad_inputs": r32["grad_inputs"],
                **{f"grads[{k!r}]": v for k, v in r32["grads"].items()},
                **{f"trace[{k!r}]": v for k, v in r32["trace"].items()}}
    arrays64 = {"logits": r64["logits"], "loss": r64["loss"],
                "grad_inputs": r64["grad_inputs"],
                **{f"grads[{k!r}]": v for k, v in r64["grads"].items()},
                **{f"trace[{k!r}]": v for k, v in r64["trace"].items()}}
    for key, value in arrays32.items():
        assert value.dtype == np.float32, f"{key}: dtype {value.dtype}, expected float32"
        assert arrays64[key].dtype == np.float64
    errors = {k: scaled_error(v, arrays64[k]) for k, v in arrays32.items()}
    worst = max(errors, key=errors.get)
    print(f"\n{name}: worst float32 error {errors[worst]:.2e} in {worst}")
    bad = {k: e for k, e in errors.items() if not e <= bound}
    assert not bad, f"{name}: float32 off float64 by more than {bound:g} (scaled): {bad}"
    # and float32 is not secretly float64
    assert errors["logits"] > 0 or errors["loss"] > 0
