"""Localisation an author can act on, each weakness shown by a backend result built for it.

The "backend results" are the reference's own results with one difference placed by hand
(or a real catalogued bug), so the expected line is known independently of the code.
"""

import copy

import numpy as np
import pytest

from diffmem.models.family import GRADIENT_ONLY, LOSS
from diffmem.models.ntm.reference.layout import STAGES
from diffmem.backends.protocol import load_backend
from diffmem.harness.compare import FAIL, compare_case, run_case
from diffmem.harness.fixture_io import case_path, load_case
from diffmem.harness.testing import tiny_case
from diffmem.harness.tolerance import Tolerance

# What loudinthecloud/pytorch-ntm can expose through hooks: no interface, activations or
# intermediate weights.
PARTIAL = ("controller", "controller_cell", "write.weight", "memory", "read.weight", "reads",
           "logits")


@pytest.fixture(scope="module")
def case():
    return tiny_case("tiny", seed=5, batch=2, steps=6, controller="lstm")


def exact(case, dtype="float64"):
    return copy.deepcopy(case.expected[dtype])


def check(case, result, dtype="float64"):
    return compare_case(case, result, dtype, Tolerance(), backend_name="fake")


def test_a_partial_trace_never_claims_stages_it_did_not_compare(case):
    r = exact(case)
    r["trace"] = {k: v for k, v in r["trace"].items() if k in PARTIAL}
    r["trace"]["write.weight"][0, 2, 0, 1] += 1e-3
    line = check(case, r).first_divergence.splitlines()[0]
    assert line == ("first divergence: t=2 stage 7 write.weight head 0 (compared before it "
                    "and matched: steps 0-1 stages 1, 7-8, 13-15, step 2 stage 1; stages 2-6, "
                    "9-12 not compared: the backend returned no trace for them)")


def test_a_partial_trace_with_exact_outputs_passes(case):
    r = exact(case)
    r["trace"] = {k: v for k, v in r["trace"].items() if k in PARTIAL}
    res = check(case, r)
    assert res.status == "pass"
    assert "not compared: trace/interface" in res.check("trace")[1]


def test_the_evidence_is_taken_where_it_diverges_not_where_it_is_worst(case):
    # A float32 buffer in a float64 run: the error starts at float32 size at t=0 and
    # compounds; the worst element is late, the divergence is early.
    r = exact(case)
    low = case.expected["float32"]["trace"]["write.w_shifted"].astype(np.float64)
    growth = np.exp(np.arange(case.steps))[None, :, None, None]
    r["trace"]["write.w_shifted"] += (low - r["trace"]["write.w_shifted"]) * growth
    res = check(case, r)
    first, evidence = res.first_divergence.splitlines()
    assert first.startswith("first divergence: t=0 stage 6 write.w_shifted head 0")
    assert evidence.startswith("  at the divergence: b=") and " t=0 " in evidence
    assert "about the size of float32 rounding" in evidence
    t = next(x for x in res.tensors if x.tensor == "trace/write.w_shifted")
    assert t.where["t"] == case.steps - 1 and t.first_bad["t"] == 0


def test_a_wrong_formula_is_told_from_a_lower_precision(case):
    r = exact(case)
    w = r["trace"]["write.w_shifted"]
    r["trace"]["write.w_shifted"] = np.roll(w, 1, axis=-1)   # the shift the other way
    evidence = check(case, r).first_divergence.splitlines()[1]
    assert "far larger than float32 rounding: a wrong formula" in evidence


def test_failing_tensors_are_listed_worst_first_and_none_is_hidden(case):
    r = exact(case)
    names = list(r["grads"])
    for i, name in enumerate(names):   # six small failures and one enormous one, last
        r["grads"][name] = r["grads"][name] + (1e6 if i == len(names) - 1 else 1e-6 * (i + 1))
    status, message = check(case, r).check("grads")
    lines = message.splitlines()
    assert status == FAIL and lines[0].startswith(f"grads/{names[-1]}:")
    assert "more failing tensor(s), worst first:" in lines[-1]
    tail = lines[-1].split("worst first: ")[1]
    ratios = [float(x.split("(ratio ")[1].rstrip(")")) for x in tail.split(", ")]
    assert ratios == sorted(ratios, reverse=True)


def test_a_cause_within_tolerance_is_named_by_the_suspect_line():
    # softplus that linearises above 20: beta off by ~2e-9, within its own bound; the
    # first divergence surfaces downstream (or only in gradients), the suspect names beta.
    case = load_case(case_path("ntm-copy-lstm-sharp"))
    backend = load_backend("diffmem.models.ntm.bugs:softplus_threshold", "cpu", "float64")
    res = run_case(backend, case, "float64", paths=False)
    assert res.status == FAIL and res.divergence.stage not in (STAGES[3], STAGES[9])
    assert res.suspect.stage in (STAGES[3], STAGES[9])
    assert res.suspect.line.startswith("suspect: trace/write.beta (stage 3) at b=")
    assert "within its bound" in res.suspect.line


def test_correct_backends_raise_no_suspect():
    case = load_case(case_path("ntm-copy-lstm-sharp"))
    from diffmem.backends.reference import make_backend
    res = run_case(make_backend("cpu", "float64"), case, "float64", paths=False)
    assert res.status == "pass" and res.suspect is None
