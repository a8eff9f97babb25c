"""How the bundled JAX backend has XLA build its programs on a CPU (``DIFFMEM_JAX_XLA``,
backends/driver.py): the quick build by default, XLA's own on request, and a bad value
refused in one line before anything runs.  Both builds must meet the product's
calibrated bounds: the quick one is what every check runs, the default one what a plain
``jax.jit`` and training build."""

import jax
import pytest

from diffmem.backends.driver import JAX_XLA_SETTINGS, JAX_XLA_VARIABLE, jax_xla_setting
from diffmem.backends.jax import driver
from diffmem.backends.jax.driver import JaxBackend
from diffmem.cli import main
from diffmem.harness.compare import PASS, run_case
from diffmem.harness.devices import inventory
from diffmem.harness.doctor import format_inventory
from diffmem.harness.fixture_io import case_path, load_case


@pytest.fixture
def compiles(monkeypatch):
    """The compiler options of every program compiled, in order."""
    seen = []
    real = jax.stages.Lowered.compile

    def spying(self, compiler_options=None, **kw):
        seen.append(compiler_options)
        return real(self, compiler_options=compiler_options, **kw)
    monkeypatch.setattr(jax.stages.Lowered, "compile", spying)
    driver._COMPILED.clear()
    yield seen
    driver._COMPILED.clear()


@pytest.mark.parametrize("setting", ["quick", "default"])
@pytest.mark.parametrize("case", ["stack-ff-bce-init", "ntm-copy-ff-init"])
def test_each_build_meets_the_calibrated_bounds(setting, case, compiles, monkeypatch):
    monkeypatch.setenv(JAX_XLA_VARIABLE, setting)
    result = run_case(JaxBackend("cpu", "float32"), load_case(case_path(case)), "float32")
    assert result.status == PASS, result.error or result.first_divergence
    assert compiles == [JAX_XLA_SETTINGS[setting]]      # one program, built as asked


def test_switching_the_build_in_a_process_compiles_the_other_one(compiles, monkeypatch):
    case = load_case(case_path("stack-ff-bce-init"))
    for setting in ("quick", "default", "quick"):
        monkeypatch.setenv(JAX_XLA_VARIABLE, setting)
        assert run_case(JaxBackend("cpu", "float32"), case, "float32").status == PASS
    assert compiles == [JAX_XLA_SETTINGS["quick"], JAX_XLA_SETTINGS["default"]]


def test_unset_or_empty_is_the_quick_build_and_a_gpu_keeps_xla_defaults():
    assert jax_xla_setting({}) == jax_xla_setting({JAX_XLA_VARIABLE: ""}) == "quick"
    assert JAX_XLA_SETTINGS["quick"] == {"xla_backend_optimization_level": 0,
                                         "xla_cpu_use_fusion_emitters": False}
    assert driver.compiler_options("gpu") is None


def test_a_bad_value_is_one_line_and_exit_2_before_any_command(monkeypatch, capsys):
    monkeypatch.setenv(JAX_XLA_VARIABLE, "O3")
    with pytest.raises(ValueError, match=r"DIFFMEM_JAX_XLA='O3': expected one of quick, "
                                         r"default"):
        JaxBackend("cpu", "float32")
    for argv in (["doctor"], ["check", "--family", "stack", "--heldout", "0"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("diffmem: DIFFMEM_JAX_XLA='O3'")


@pytest.mark.parametrize("setting, words", [("quick", "XLA's quick build"),
                                            ("default", "XLA's default build")])
def test_doctor_says_which_build(setting, words, monkeypatch):
    monkeypatch.setenv(JAX_XLA_VARIABLE, setting)
    info = inventory()
    assert info["jax"]["cpu_build"] == setting
    assert f"the bundled JAX backend's programs on a CPU: {words}" in format_inventory(info)
