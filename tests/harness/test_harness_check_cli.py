"""`diffmem check` end to end: table, summary, exit status, JSON report, bad backends.

Bad backends are written as a small module in a temporary folder and named by import
path, exactly as a kernel author would name theirs.
"""

import json

from diffmem.cli import main
from diffmem.harness.fixture_io import case_names, default_fixture_dir

SMALL = "ntm-random-ff-n1-init"   # a small bundled case (N = 1, B = 2, T = 10, X = 6)

def test_bundled_fixtures_include_the_small_case():
    assert SMALL in case_names(default_fixture_dir())


def test_reference_backend_passes_and_writes_a_report(run_check, tmp_path):
    report = tmp_path / "report.json"
    code, out, _ = run_check("--backend", "reference", "--report", str(report))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:6] == ["case", "backend", "dtype", "status", "worst", "ratio"]
    assert sum(SMALL in line and " PASS " in line for line in lines) == 2   # both dtypes
    assert "2 run(s): 2 passed, 0 failed, 0 error(s), 0 incomplete, 0 unsupported" in out
    assert out.rstrip().endswith(f"JSON report: {report}")
    data = json.loads(report.read_text())
    assert data["schema_version"] == "diffmem-report/6" and data["shard"] is None
    assert data["summary"]["ok"] is True and data["summary"]["passed"] == 2
    assert data["fixtures_pinned"] is True
    assert {r["dtype"] for r in data["results"]} == {"float32", "float64"}
    first = data["results"][0]
    assert set(first["checks"]) == {"logits", "loss", "grads", "grad_inputs", "trace",
                                    "untraced", "repeat"}
    assert all(c["status"] == "pass" for c in first["checks"].values())
    t = next(t for t in first["tensors"] if t["tensor"] == "trace/write.w_shifted")
    assert t["stage"] == {"number": 6, "name": "write shift"} and t["ratio"] <= 1 and set(t["where"]) >= {"b", "t", "head"}


def test_nan_is_reported_by_name_and_the_exit_status_is_1(run_check, tmp_path):
    report = tmp_path / "r.json"
    code, out, _ = run_check("--backend", "bad_backends:nan", "--dtype", "float64",
                             "--report", str(report))
    assert code == 1
    assert "logits contain NaN at b=1 t=9 index=(0)" in out and "FAILED" in out
    data = json.loads(report.read_text())   # inf ratios are written as strings
    assert data["results"][0]["worst_ratio"] == "inf"


def test_wrong_shapes(run_check):
    code, out, _ = run_check("--backend", "bad_backends:shapes", "--dtype", "float64")
    assert code == 1
    assert "grad_inputs: expected shape (2, 10, 6) [B, T, X], got (10, 2, 6)" in out


def test_missing_keys(run_check):
    code, out, _ = run_check("--backend", "bad_backends:keys", "--dtype", "float64")
    assert code == 1
    assert "grads/output.bias: missing from the backend's grads" in out


def test_plain_lists_instead_of_arrays(run_check):
    code, out, _ = run_check("--backend", "bad_backends:lists", "--dtype", "float64")
    assert code == 1 and "loss: expected a numpy array, got builtins.list" in out


def test_backend_that_raises_gives_an_error_row(run_check):
    code, out, _ = run_check("--backend", "bad_backends:raises", "--dtype", "float64")
    assert code == 1
    assert "the backend raised KeyError: 'no such key'" in out and "bad_backends.py" in out
    assert "1 run(s): 0 passed, 0 failed, 1 error(s)" in out


def test_factory_failure_does_not_stop_the_others(run_check):
    code, out, _ = run_check("--backend", "bad_backends:factory_fails",
                             "--backend", "reference", "--dtype", "float64")
    assert code == 1
    assert "could not make backend 'bad_backends:factory_fails'" in out
    assert "RuntimeError: no CUDA here" in out
    assert "2 run(s): 1 passed, 0 failed, 1 error(s)" in out


def test_unknown_backend_is_a_usage_error(run_check):
    code, _, err = run_check("--backend", "nosuch", "--dtype", "float64")
    assert code == 2 and "'nosuch': not a registered backend" in err


def test_no_matching_case_and_missing_folder_exit_2(run_check, tmp_path, capsys):
    assert main(["check", "--no-progress", "--cases", "no-such-case*"]) == 2
    assert "no fixture case matches" in capsys.readouterr().err
    assert main(["check", "--no-progress", "--fixtures", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "does not exist" in err


def test_bad_tolerance_option_exits_2(capsys):
    assert main(["check", "--no-progress", "--tolerance", "grads"]) == 2
    assert "expected PATTERN=RTOL" in capsys.readouterr().err


def test_worker_processes_give_the_same_table_as_one_process(run_check):
    # --jobs 2 spawns workers that load the cases by name; a bad backend in a worker
    # is still one clear row, and the rows come back in (backend, dtype, case) order.
    args = ("--backend", "reference", "--backend", "bad_backends:nan", "--dtype", "float64")
    code1, out1, _ = run_check(*args)
    code2, out2, _ = run_check(*args, "--jobs", "2")
    assert code1 == code2 == 1
    table = lambda out: [line.split()[:4] for line in out.splitlines()[:4]]
    assert table(out1) == table(out2)
    assert "logits contain NaN" in out2


def test_a_first_check_with_jax_says_why_it_takes_minutes(tmp_path):
    from diffmem.harness.check_commands import first_check_note
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    note = first_check_note(["jax", "torch"], "cpu", env)
    assert note.startswith("JAX: no program kept") and str(tmp_path) in note
    assert "0.5-3 s per group" in note                            # the quick build's costs
    slow = first_check_note(["jax"], "cpu", {**env, "DIFFMEM_JAX_XLA": "default"})
    assert "2-8 s per group" in slow and "about 7 minutes" in slow
    assert first_check_note(["torch"], "cpu", env) is None        # no JAX: nothing to say
    assert first_check_note(["jax"], "cuda", env) is None         # GPU programs are not kept
    kept = tmp_path / "diffmem" / "jax-programs"
    kept.mkdir(parents=True)
    (kept / "a.jaxexport").write_bytes(b"x")
    assert first_check_note(["jax"], "cpu", env) is None          # an earlier check's programs
