"""The reference's gradients against finite differences of its own loss (issue 2 item 4).

The finite differences never touch autograd (``diffmem.reference.gradcheck``), so a
wrong VJP anywhere in the reference shows here.  Run with ``-s`` to see each case's
worst relative error.
"""

import argparse

import numpy as np
import pytest

from diffmem.harness import gradcheck_commands
from diffmem.models import family_named
from diffmem.models.ntm.reference.gradcheck import CASES
from diffmem.models.ntm.reference.layout import param_shapes
from diffmem.reference import gradcheck as gc

NTM = family_named("ntm")


def run(cfg, params, inputs, targets, mask, want_grads):
    return NTM.bind(cfg).run_reference(params, inputs, targets, mask, want_trace=False,
                                       want_grads=want_grads)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradients_match_finite_differences(case):
    checks = gc.check_case(case, run)
    worst = max(checks, key=lambda c: c.worst)
    print(f"\n{case.name} ({case.regime}): worst {worst.describe()}")
    bad = [c.describe() for c in checks if not c.worst <= gc.BOUND]
    assert not bad, f"{case.name}: relative error above {gc.BOUND:g}:\n" + "\n".join(bad)
    names = [c.name for c in checks]
    assert names == list(param_shapes(case.build()[0])) + [gc.INPUTS]


def test_cases_cover_the_spread_the_issue_asks_for():
    cfgs = [(c.build()[0], c.regime) for c in CASES]
    assert {cfg.controller for cfg, _ in cfgs} == {"feedforward", "lstm"}
    for ctrl in ("feedforward", "lstm"):
        assert {cfg.R for cfg, _ in cfgs if cfg.controller == ctrl} == {1, 2}
        assert {cfg.Wh for cfg, _ in cfgs if cfg.controller == ctrl} == {1, 2}
    assert any(max(map(abs, cfg.shifts)) >= 2 for cfg, _ in cfgs)
    assert {1, 2} <= {cfg.N for cfg, _ in cfgs}
    assert "sharp" in {regime for _, regime in cfgs}


def test_derivative_is_exact_to_rounding_on_a_known_function():
    x = np.array([0.3, -1.2, 2.0])
    d = np.array([1.0, -0.5, 0.25])
    numeric = gc.derivative(lambda v: np.sum(np.sin(v) * v), x, d)
    exact = np.sum((np.cos(x) * x + np.sin(x)) * d)
    assert abs(numeric - exact) <= 1e-11 * abs(exact), (numeric, exact)


def test_checker_catches_a_gradient_wrong_by_ten_times_the_bound():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    grad = np.cos(x)                           # d/dx sum(sin(x))
    wrong = grad.copy()
    wrong[1, 2] *= 1.0 + 10 * gc.BOUND
    f = lambda v: np.sum(np.sin(v))            # noqa: E731
    ok = gc.check_tensor(f, x, grad, "x", rng, elements=12, directions=2)
    caught = gc.check_tensor(f, x, wrong, "x", rng, elements=12, directions=2)
    assert ok.worst <= gc.BOUND, ok.describe()
    assert caught.worst > gc.BOUND and "(1, 2)" in caught.where, caught.describe()


def test_nan_gradient_never_passes():
    assert gc.relative_error(np.nan, 1.0, 0.0) == np.inf
    assert gc.relative_error(1.0, np.nan, 0.0) == np.inf


def test_command_prints_a_table_and_exit_status(capsys):
    # the sub-command alone (diffmem.cli wires the same add_commands into ``diffmem``)
    parser = argparse.ArgumentParser(prog="diffmem")
    gradcheck_commands.add_commands(parser.add_subparsers())

    def main(argv):
        args = parser.parse_args(argv)
        return args.func(args)

    assert main(["gradcheck", "--family", "ntm", "--only", "ff-N1"]) == 0
    out = capsys.readouterr().out
    assert "ff-N1" in out and "pass" in out and "gradcheck passed" in out
    assert main(["gradcheck", "--family", "ntm", "--only", "ff-N1", "--bound", "1e-30"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_a_family_without_cases_is_reported_not_checked(capsys, monkeypatch):
    # Every family but the NTM declares none here: the command must not call them passed.
    from diffmem.models import families
    for name, fam in families().items():
        if name != "ntm":
            monkeypatch.setattr(type(fam), "gradcheck_cases", lambda self: ())
    parser = argparse.ArgumentParser(prog="diffmem")
    gradcheck_commands.add_commands(parser.add_subparsers())
    args = parser.parse_args(["gradcheck", "--only", "ff-N1"])
    assert args.func(args) == 0
    args = parser.parse_args(["gradcheck", "--family", "ntm,stack"])
    monkeypatch.setattr(type(NTM), "gradcheck_cases", lambda self: CASES[6:7])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "not checked: stack (the family declares no gradcheck cases)" in out
    assert out.rstrip().endswith("gradcheck passed for ntm")
