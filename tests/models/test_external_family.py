"""A fourth family from a package of its own (``examples/toy_family``), registered by its
entry point only, goes through everything a bundled family does: fixtures, a check by
both bundled drivers, its bugs caught at their stage, ``diffmem train`` and ``diffmem
test`` with its own flags, and ``diffmem pretrained list``.  Nothing in diffmem names it:
this is the recipe of docs/models.md, "Adding a family".

The package is "installed" the way pip leaves it, as a folder on the path beside a
``.dist-info`` holding its entry point, which ``importlib.metadata`` finds.
"""

import pathlib
import shutil
import sys
import tomllib

import pytest

from diffmem import models
from diffmem.cli import main

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "toy_family"


def _clear_registries():
    from diffmem.training import data
    models.families.cache_clear()
    models._by_model.cache_clear()
    data._registry.cache_clear()


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    site = tmp_path_factory.mktemp("site-packages")
    shutil.copytree(PACKAGE / "toy_family", site / "toy_family")
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    info = site / "diffmem_toy_family-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
        for group, eps in project["entry-points"].items()))
    sys.path.insert(0, str(site))
    _clear_registries()
    yield models.family_named("toy")
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m == "toy_family" or m.startswith("toy_family.")]:
        del sys.modules[name]
    _clear_registries()


def test_diffmem_does_not_name_the_family():
    import diffmem
    roots = [pathlib.Path(diffmem.__file__).resolve().parent] + [
        pathlib.Path(__import__(f"diffmem.{top}", fromlist=["_"]).__file__).resolve().parent
        for top in ("reference", "backends", "harness", "models", "training", "pretrained")]
    named = [p for root in roots for p in root.rglob("*.py") if "toy_family" in p.read_text()]
    assert named == []


def test_fixtures_check_and_bug_hunt(toy, tmp_path, capsys):
    from diffmem.harness import bug_hunt
    from diffmem.harness.fixture_io import list_cases
    assert main(["fixtures", "generate", "--fixtures", str(tmp_path), "--cases", "toy-*"]) == 0
    cases = list_cases(tmp_path)
    assert [c.name for c in cases] == ["toy-echo", "toy-random"]
    assert all(c.model.family is toy and set(c.expected) == {"float64", "float32"}
               for c in cases)
    capsys.readouterr()
    assert main(["check", "--fixtures", str(tmp_path), "--trust-fixtures", "--family", "toy",
                 "--backend", "torch", "--backend", "jax", "--heldout", "1", "--seed", "3",
                 "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "toy-echo" in out and "toy-heldout-3-0" in out and "FAIL" not in out
    # The bug hunt of the recipe: the toy's catalogue only, each bug caught and named at
    # the stage it lives in (exit 0 says so of every one).
    assert bug_hunt.main(["--fixtures", str(tmp_path), "--cases", "toy-*"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [r.split()[0] for r in rows[:-1]] == sorted(toy.bugs())
    for row, cls in zip(rows, (toy.bugs()[n] for n in sorted(toy.bugs()))):
        stage = cls.STAGES[0]
        assert row.split()[1:5] == [str(stage.number), stage.name, "caught", "localised"], row
    # A case of the toy, given to the NTM's bug backend, is declined, not failed.
    from diffmem.backends.protocol import load_backend
    ntm_bug = load_backend("diffmem.models.ntm.bugs:shift_wrong_sign", "cpu", "float64")
    assert "another family" in str(ntm_bug.supports(cases[0].config))


def test_a_config_is_bound_once_and_carried(toy):
    from toy_family.model import HIDDEN, LOGITS, ToyConfig, param_shapes
    cfg = ToyConfig(2, 2)
    model = models.bind(cfg)
    assert model.family is toy and toy.bind(cfg) is model and toy.bind(cfg.to_dict()) is model
    assert model.trace_names == ("hidden", "logits") and model.stages == [HIDDEN, LOGITS]
    assert model.param_shapes == param_shapes(cfg) and model.name == "toy"
    ntm = models.bind({"model": "ntm", "input_size": 1, "output_size": 1,
                       "controller_size": 1, "memory_rows": 1, "memory_width": 1})
    with pytest.raises(ValueError, match=r"config: expected a ToyConfig \(family toy\) or its "
                                         r"dict, got NTMConfig"):
        toy.bind(ntm.config)


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_a_driver_lacking_an_operation_refuses_with_one_line(toy, framework):
    import importlib

    from toy_family.model import BatchedToy

    from diffmem.backends.protocol import Unsupported
    from diffmem.harness.compare import UNSUPPORTED, run_case
    from diffmem.harness.testing import reference_case

    class NeedsCumprod(BatchedToy):
        """A correct rewrite that needs an operation no bundled ops table has."""
        OPS = BatchedToy.OPS | {"cumprod_stable"}

    driver = importlib.import_module(f"diffmem.backends.{framework}")
    backend = driver.make_backend("cpu", "float64", model_cls=NeedsCumprod)
    case = reference_case("toy", *toy.cases()[0].build())
    table = "TorchOps" if framework == "torch" else "JaxOps"
    line = f"{table} lacks the array operation(s) cumprod_stable that NeedsCumprod " \
           f"(family toy) needs"
    assert backend.supports(case.config) == line
    result = run_case(backend, case, "float64")
    assert result.status == UNSUPPORTED and line in result.unsupported
    with pytest.raises(Unsupported, match=line.replace("(", r"\(").replace(")", r"\)")):
        driver.make_model(case.config, model_cls=NeedsCumprod)


def test_a_model_name_claimed_by_two_families_is_refused(toy, monkeypatch):
    twin = type(toy)()
    twin.name = "toy2"
    monkeypatch.setitem(models.families(), "toy2", twin)
    models._by_model.cache_clear()
    with pytest.raises(RuntimeError, match="claimed by families 'toy' and 'toy2'"):
        models.family_for("toy")
    monkeypatch.undo()
    models._by_model.cache_clear()


def test_train_test_and_pretrained_list(toy, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "toy model:\n  --toy-hidden TOY_HIDDEN" in capsys.readouterr().out
    save = tmp_path / "toy.npz"
    assert main(["train", "--task", "toy_echo", "--toy-hidden", "3", "--steps", "4",
                 "--batch-size", "2", "--save-to", str(save), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["test", "--model", str(save), "--lo", "2", "--hi", "3",
                 "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "bit errors/seq" in out and "hidden units (unit x time)" in out
    # Another family's size flag is refused by name.
    assert main(["train", "--task", "toy_echo", "--N", "4", "--save-to",
                 str(tmp_path / "x.npz")]) == 2
    assert "--N: not a size of the toy family" in capsys.readouterr().err
    assert main(["pretrained", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if line.startswith("pretrained:toy_echo "))
    assert "H=" in row and "lengths" in row
