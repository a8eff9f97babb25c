"""`diffmem calibrate` smoke test: a couple of random cases through the torch backend.
(The real calibration, 300 cases, is a command, not a test: see README.md.)"""

import json

from diffmem.cli import main
from diffmem.harness.calibrate import random_case, random_group
from diffmem.models.ntm.calibration import CALIBRATION

import numpy as np


def test_random_cases_are_reproducible_and_valid():
    draw = random_group(7, 0, chosen=("ntm",))
    assert draw == random_group(7, 0, chosen=("ntm",)) and draw["family"] == "ntm"
    a, b = random_case(7, 0, 0, draw), random_case(7, 0, 0, draw)
    assert a.name == b.name
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert a.inputs.shape[:2] == (draw["batch"], draw["steps"])
    assert set(a.expected) == {"float64", "float32"}


def test_calibrate_smoke(tmp_path, capsys):
    report = tmp_path / "cal.json"
    code = main(["calibrate", "--cases", "2", "--configs", "1", "--backend", "torch",
                 "--seed", "3", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "torch      float32      2     0     0" in out
    assert "torch      float64      2     0     0" in out
    assert "smallest k that passes every run" in out
    data = json.loads(report.read_text())
    assert len(data["runs"]) == 4 and all(r["status"] == "pass" for r in data["runs"])
    assert {d["dtype"] for d in data["distribution"]} == {"float32", "float64"}


def test_dtype_lists_and_small_configs():
    import pytest
    from diffmem.harness.options import parse_dtypes
    assert parse_dtypes("both") == ("float32", "float64")
    assert parse_dtypes("bfloat16, tf32") == ("bfloat16", "tf32")   # the order given
    assert parse_dtypes(["float64", "both"]) == ("float64", "float32")
    with pytest.raises(ValueError, match="expected one of"):
        parse_dtypes("tf32,int8")
    for group in range(20):
        big = CALIBRATION.random_config(np.random.default_rng([5, group]))
        small = CALIBRATION.random_config(np.random.default_rng([5, group]), small=True)
        c = small["config"]
        assert c["memory_rows"] <= 8 and c["memory_width"] <= 6 and c["controller_size"] <= 8
        assert small["steps"] <= 12
        assert small["task"] == big["task"] and c["shifts"] == big["config"]["shifts"]


def test_calibrate_low_precision_modes_smoke(tmp_path, capsys):
    report = tmp_path / "cal.json"
    code = main(["calibrate", "--cases", "1", "--configs", "1", "--backend", "torch",
                 "--seed", "4", "--small", "--dtype", "bfloat16,tf32", "--report", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tf32: smallest k that passes every run" in out
    assert "bfloat16: smallest k that passes every run" in out
    assert "--dtype tf32,bfloat16 --small` reproduces this" in out
    rows = json.loads(report.read_text())["runs"]
    assert {r["dtype"] for r in rows} == {"tf32", "bfloat16"}
    assert all(r["status"] == "pass" for r in rows)


def test_calibrate_refuses_an_unknown_dtype(capsys):
    assert main(["calibrate", "--cases", "1", "--dtype", "float8"]) == 2
    assert "float8" in capsys.readouterr().err


def test_an_unsupported_run_is_listed_with_the_backends_reason():
    from diffmem.backends.protocol import load_backend
    from diffmem.harness.calibrate import format_calibration, result_row
    from diffmem.harness.compare import UNSUPPORTED, run_case
    from diffmem.harness.heldout import make_case
    class OnlyLstm:
        name = "only-lstm"

        def __init__(self):
            self.inner = load_backend("torch", "cpu", "float64")

        def supports(self, config):
            return "an LSTM controller only, here"

        def run(self, *args, **kwargs):
            raise AssertionError("never called for an unsupported configuration")

    case = make_case({"family": "ntm", "seed": 22, "index": 0}, precisions=("float64",))
    result = run_case(OnlyLstm(), case, "float64", paths=False)
    assert result.status == UNSUPPORTED
    text = format_calibration([result_row(case, "only-lstm", "float64", result, None)])
    assert f"UNSUPPORTED: only-lstm float64 {case.name}: unsupported by the backend: an LSTM controller only, here" in text
