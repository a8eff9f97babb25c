"""A verdict that can be trusted: each test is a backend that misbehaves in one way (the
module in conftest.py) and the verdict, exit code and JSON it must get.

- no vacuous pass: a backend that returns less fails, naming what is missing;
- a low precision cannot vouch for what it cannot resolve: the float64 run must;
- held-out random cases: a backend that memorised the fixtures fails;
- both call paths and a repeated call are checked;
- a hung backend is reported and every other result is kept;
- the fixture folder must be the pinned one;
- one error met by many runs is said once and stops the run early;
- unsupported configurations are counted apart, and fail under --strict.
"""

import json
import shutil

import pytest

from diffmem.cli import main
from diffmem.harness.fixture_io import default_fixture_dir, read_manifest, write_manifest

SMALL = "ntm-random-ff-n1-init"
ZERO_KEYS = "ntm-copy-ff-zero-keys-sharp"


def test_outputs_without_gradients_fail_naming_what_is_missing(run_check, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = run_check("--backend", "bad_backends:outputs", "--report", str(report))
    assert code == 1
    assert "grads: Result.grads is None; gradients of every parameter are required" in out
    assert "grad_inputs: Result.grad_inputs is None" in out
    data = json.loads(report.read_text())
    assert data["summary"]["ok"] is False and data["summary"]["passed"] == 0
    assert {r["status"] for r in data["results"]} == {"fail"}


def test_no_trace_still_passes_on_outputs_and_gradients(run_check):
    code, out, _ = run_check("--backend", "bad_backends:untraced", "--dtype", "float64")
    assert code == 0, out
    assert " PASS " in out


def test_float32_alone_reports_what_it_cannot_resolve_and_strict_keeps_it_open(run_check,
                                                                             tmp_path):
    # The reference's own float32 run is correct, but float32 cannot resolve the zero-key
    # gradients: without a float64 run they are held to the plausible-range bound only and
    # said to be not judgeable, never silently passed; --strict keeps them open.
    report = tmp_path / "r.json"
    code, out, _ = run_check("--backend", "reference", "--dtype", "float32",
                             "--cases", ZERO_KEYS, "--report", str(report))
    assert code == 0, out
    assert "2 tensor(s) not judgeable in float32: grads/interface.weight, " \
           "grads/interface.bias" in out
    data = json.loads(report.read_text())
    assert data["results"][0]["status"] == "pass" and data["summary"]["not_judgeable"] == 2
    assert {t["tensor"] for t in data["results"][0]["tensors"] if t["judged_alone"]} == \
        {p + n for p in ("", "repeat/") for n in ("grads/interface.weight",
                                                   "grads/interface.bias")}
    code, out, _ = run_check("--backend", "reference", "--dtype", "float32",
                             "--cases", ZERO_KEYS, "--strict")
    assert code == 1
    assert "INCOMPLETE" in out and "grads/interface.weight" in out
    assert "run with --dtype float64 as well" in out
    # With the float64 run of the same kernel, those tensors are checked there.
    code, out, _ = run_check("--backend", "reference", "--cases", ZERO_KEYS)
    assert code == 0, out
    assert "checked by the backend's float64 run" in out and "not judgeable" not in out


def test_garbage_where_float32_cannot_resolve_never_passes(run_check):
    # -7 g + 1 is 8 times the tensor's scale off: outside any plausible float32 range.
    for strict in ((), ("--strict",)):
        code, out, _ = run_check("--backend", "bad_backends:garbage32", "--dtype", "float32",
                                 "--cases", ZERO_KEYS, *strict)
        assert code == 1
        assert "PASS" not in out.split("\n\n")[0]
    assert "outside any plausible float32 range" in out or "INCOMPLETE" in out


def test_a_float64_run_of_another_kernel_does_not_vouch_for_float32(run_check):
    # Correct in float64, garbage (-7 g + 1) in float32 where float32 cannot resolve: the
    # backend does not declare its float64 run the same kernel, so float64 proves nothing
    # about the float32 values, which are judged by the capped noise bound and fail.
    code, out, _ = run_check("--backend", "bad_backends:garbage32_with_float64",
                             "--cases", ZERO_KEYS)
    assert code == 1, out
    assert "grads/interface.weight: outside any plausible float32 range" in out
    assert "no float64 run of the same kernel checked it" in out


def test_a_backend_that_memorised_the_fixtures_fails_the_heldout_cases(run_check):
    code, out, _ = run_check("--backend", "bad_backends:memoriser", "--dtype", "float64",
                             "--heldout", "2", "--seed", "11")
    assert code == 1
    rows = [line for line in out.splitlines() if "memoriser" in line
            and not line.startswith("==")]
    assert any(SMALL in r and "PASS" in r for r in rows)   # the stored answer is right
    from diffmem.models import families
    assert sum("heldout-11-" in r and "FAIL" in r for r in rows) == 2 * len(families())
    assert "held-out cases: 2 per family (delta, ntm, stack, stackrnn: 8 in all) drawn with --seed 11" in out


def test_heldout_cases_are_new_each_run_unless_seeded(run_check):
    _, out1, _ = run_check("--backend", "reference", "--dtype", "float64", "--heldout", "1",
                           "--cases", SMALL)
    _, out2, _ = run_check("--backend", "reference", "--dtype", "float64", "--heldout", "1",
                           "--cases", SMALL)
    seeds = [line.split("--seed ")[1].split()[0] for line in (out1, out2)[0:2]
             for line in line.splitlines() if line.startswith("held-out")]
    assert len(seeds) == 2 and seeds[0] != seeds[1]


def test_the_untraced_production_call_is_checked(run_check):
    code, out, _ = run_check("--backend", "bad_backends:untraced_path_bug", "--dtype", "float64")
    assert code == 1
    assert "[untraced] untraced/logits:" in out and "outside tolerance" in out


def test_a_backend_that_keeps_state_between_calls_fails_the_repeat(run_check):
    code, out, _ = run_check("--backend", "bad_backends:stateful", "--dtype", "float64")
    assert code == 1
    assert "[repeat] repeat/loss:" in out


def test_a_hung_backend_is_an_error_and_every_other_result_is_kept(run_check, tmp_path):
    report = tmp_path / "r.json"
    # 10 s, not 1: the reference backend must finish its own call within the same limit
    # on a loaded 2-core machine.
    code, out, _ = run_check("--backend", "bad_backends:hangs", "--backend", "reference",
                             "--dtype", "float64", "--timeout", "10", "--report", str(report))
    assert code == 1
    assert "timed out: the backend did not return within 10 s" in out
    data = json.loads(report.read_text())
    assert [r["status"] for r in data["results"]] == ["error", "pass"]


def test_an_edited_and_rehashed_fixture_folder_is_refused(tmp_path, capsys):
    folder = tmp_path / "fixtures"
    shutil.copytree(default_fixture_dir(), folder, ignore=shutil.ignore_patterns("*.py"))
    manifest = read_manifest(folder)
    write_manifest(folder, dict(manifest["cases"], **{}))   # same cases, re-written
    (folder / "manifest.json").write_text((folder / "manifest.json").read_text() + "\n")
    argv = ["check", "--no-progress", "--backend", "reference", "--dtype", "float64",
            "--cases", SMALL, "--heldout", "0", "--jobs", "1", "--fixtures", str(folder)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is not the one this diffmem was released with" in err and "--trust-fixtures" in err
    assert main(argv + ["--trust-fixtures"]) == 0


def test_one_error_met_by_many_runs_is_said_once_and_stops_early(run_check):
    code, out, _ = run_check("--backend", "bad_backends:raises", "--cases", "ntm-copy-ff-*",
                             "--max-errors", "2")
    assert code == 1
    table, rest = out.split("\n\n", 1)
    assert "KeyError" not in table                        # rows point at E1, E2 ...
    assert rest.count("E1 (2 runs): the backend raised KeyError: 'no such key'") == 1
    assert "E2 (20 runs): not run: the check stopped early after 2 runs ended in the same " \
           "error (the backend raised KeyError: 'no such key')" in rest


def test_keep_going_runs_everything(run_check):
    code, out, _ = run_check("--backend", "bad_backends:raises", "--cases", "ntm-copy-ff-*",
                             "--max-errors", "2", "--keep-going", "--dtype", "float64")
    assert code == 1 and "stopped early" not in out


def test_unsupported_cases_are_counted_apart_and_fail_under_strict(run_check, tmp_path):
    cases = f"{SMALL},ntm-random-lstm-n2-init"
    code, out, _ = run_check("--backend", "bad_backends:lstm_only", "--dtype", "float64",
                             "--cases", cases)
    assert code == 0, out
    assert "UNSUPPORTED" in out and "LSTM controllers only" in out
    assert "1 passed, 0 failed, 0 error(s), 0 incomplete, 1 unsupported" in out
    code, out, _ = run_check("--backend", "bad_backends:lstm_only", "--dtype", "float64",
                             "--cases", cases, "--strict")
    assert code == 1 and "(counted as failures: --strict)" in out


@pytest.mark.parametrize("spec, expected", [
    ("os:system", "cannot be called as make_backend(device, dtype)"),
    ("builtins:print", "lacks name and run"),
    ("json:JSONDecoder", "is not a backend factory"),
])
def test_a_factory_that_is_not_one_gets_a_clear_message(run_check, spec, expected):
    code, out, err = run_check("--backend", spec, "--dtype", "float64")
    assert code in (1, 2)
    assert expected in out + err
