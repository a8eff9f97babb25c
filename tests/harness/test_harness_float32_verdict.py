"""A verdict a float32 kernel can live with.

- no false alarm on long, sharp held-out cases: a correct float32 run of a chaotic case
  is held to what rounding alone does there, sized from the perturbed float64 run;
- a float32-only run gets a stable verdict: what float32 cannot resolve is reported as
  not judgeable and held to the noise bound capped at the tensor's scale;
- never OK when little was checked: the judged fraction of runs and held-out cases;
- notes on what a kernel author wants to know even on a pass.
"""

import copy
import json

import pytest

from diffmem.harness.compare import PASS, cover_runs, run_case

SMALL = "ntm-random-ff-n1-init"


def _heldout(seed, index):
    from diffmem.harness.heldout import make_case
    from diffmem.models import family_named
    name = family_named("ntm").heldout(seed, index).name
    return make_case({"family": "ntm", "seed": seed, "index": index, "name": name})


@pytest.mark.parametrize("seed, index", [
    # `diffmem check --backend torch --family ntm --seed 457717998` failed here in float32
    # (T = 118, sharp; ratio 81-136, "only gradients differ"); JAX passed it by luck.
    (457717998, 2),
    # Found by the held-out calibration: LSTM, T = 108, sharp; every correct float64
    # backend 200 times the float64 reference's own ulp-perturbation spread off.
    (22, 598),
])
def test_a_correct_run_of_a_long_sharp_case_passes(seed, index):
    from diffmem.backends.protocol import load_backend
    case = _heldout(seed, index)
    assert "-long-" in case.name and case.name.endswith("-sharp")
    runs = [run_case(load_backend("torch", "cpu", d), case, d, paths=False)
            for d in ("float32", "float64")]
    alone = copy.deepcopy(runs[0])
    for r in runs:
        r.source = "torch"
    cover_runs(runs)
    assert [r.status for r in runs] == [PASS, PASS], [r.first_divergence for r in runs]
    assert max(r.worst_ratio for r in runs) < 0.5   # not a near miss
    # float32 alone (no float64 run): not judgeable tensors, no failure
    cover_runs([alone])
    assert alone.status == PASS and alone.not_judgeable
    assert alone.notes[0].startswith(f"{len(alone.not_judgeable)} tensor(s) not judgeable "
                                     f"in float32: ")


def test_a_float32_only_check_of_the_zero_key_fixtures_is_green(run_check):
    # Zero keys amplify float32 rounding 1e8-fold: float32 cannot resolve those gradients.
    code, out, _ = run_check("--backend", "torch", "--dtype", "float32", "--cases",
                             "ntm-copy-ff-zero-keys-sharp,ntm-random-ff-multihead-zero-keys")
    assert code == 0, out
    assert "not judgeable in float32: grads/interface" in out
    assert "INCOMPLETE" not in out


# ---------------------------------------------------------------- coverage

def test_no_heldout_case_judged_is_not_ok(run_check, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = run_check("--backend", "bad_backends:one_config", "--dtype", "float64",
                             "--family", "ntm", "--heldout", "2", "--seed", "5",
                             "--report", str(report))
    assert code == 1, out
    assert "1 passed, 0 failed, 0 error(s), 0 incomplete, 2 unsupported; judged: 1 of 3 " \
           "runs (33%), 0 of 2 held-out cases (0%)" in out
    assert "too little judged: no held-out case was judged" in out
    assert "\nFAILED\n" in out
    summary = json.loads(report.read_text())["summary"]
    assert summary["ok"] is False
    assert summary["coverage"] == {"runs": 3, "runs_judged": 1,
                                   "runs_judged_fraction": pytest.approx(1 / 3, abs=1e-6),
                                   "heldout_cases": 2, "heldout_cases_judged": 0,
                                   "heldout_cases_judged_fraction": 0.0}
    code, out, _ = run_check("--backend", "bad_backends:one_config", "--dtype", "float64",
                             "--family", "ntm", "--heldout", "2", "--seed", "5",
                             "--allow-unsupported")
    assert code == 0, out
    assert "accepted (--allow-unsupported)" in out


def test_less_than_half_of_the_runs_judged_is_not_ok(run_check):
    cases = f"{SMALL},ntm-random-lstm-n2-init,ntm-random-lstm-init"
    code, out, _ = run_check("--backend", "bad_backends:one_config", "--dtype", "float64",
                             "--cases", cases)
    assert code == 1, out
    assert "only 1 of 3 runs (33%) were judged, less than half" in out


# ---------------------------------------------------------------- notes

def test_float64_exact_float32_results_are_noted(run_check):
    code, out, _ = run_check("--backend", "bad_backends:upcast", "--dtype", "float32")
    assert code == 0, out
    assert "note: float32 results are float64-exact" in out
    assert "computes in a higher precision than float32" in out


def test_a_backend_that_writes_into_its_inputs_is_noted(run_check):
    code, out, _ = run_check("--backend", "bad_backends:in_place", "--dtype", "float64")
    assert "note: the backend modified the arrays it was given: inputs" in out


def test_repeated_calls_that_disagree_are_called_nondeterministic(run_check):
    code, out, _ = run_check("--backend", "bad_backends:flaky", "--dtype", "float64")
    assert code == 1
    assert "nondeterministic: call 1 and call 2 differ by" in out
    assert "in logits" in out


def test_a_loss_of_the_wrong_shape_is_named_with_its_shape(run_check):
    code, out, _ = run_check("--backend", "bad_backends:loss_shape", "--dtype", "float64")
    assert code == 1
    assert "loss: expected shape (2,) [B], got (1,)" in out
    assert "mask, targets or the loss formula" not in out


def test_a_lucky_float32_reference_run_does_not_hold_a_correct_kernel_to_it():
    """Held-out 22/2586 (feedforward, T = 81, sharp): the reference's float32 run put
    ``write.shift`` within 7e-5 of float64, while float32 runs on inputs moved by one ulp
    land 5e-4 to 1e-2 away; the correct logsumexp-softmax variant, 1.9e-2 away, failed
    (ratio 1.2) until the bound of a chaotic case was sized from those runs too."""
    from diffmem.backends.protocol import load_backend
    from diffmem.harness.noise import KEY32
    case = _heldout(22, 2586)
    backend = load_backend("diffmem.models.ntm.variants:softmax_by_logsumexp", "cpu",
                           "float32")
    r = run_case(backend, case, "float32", paths=False, repeat=False)
    assert case.expected[KEY32] is not None   # the case is chaotic: the spread was run
    assert r.status != "fail", r.first_divergence
    shift = next(t for t in r.tensors if t.tensor == "trace/write.shift")
    assert shift.ratio < 1
