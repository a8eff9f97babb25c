"""Bad input to the reference -> ValueError naming the thing, the expected and what came."""

import numpy as np
import pytest

from diffmem.models.ntm.reference import NTMConfig, init_params, run_batch, run_sequence

CFG = NTMConfig(input_size=3, output_size=2, controller_size=4, memory_rows=5,
                memory_width=3)
T = 4


@pytest.fixture
def good():
    rng = np.random.default_rng(0)
    return (init_params(CFG, 0), rng.standard_normal((T, 3)), rng.uniform(0, 1, (T, 2)),
            np.ones(T))


def raises(*fragments, call):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} missing from {message!r}"
    return message


def test_good_input_runs(good):
    assert np.isfinite(run_sequence(CFG, *good)["loss"])


@pytest.mark.parametrize("name", ["controller.weight", "interface.bias", "init.memory",
                                  "init.write_logits"])
def test_wrong_param_shape_names_array_expected_and_actual(good, name):
    params, x, z, m = good
    bad = np.zeros(params[name].shape + (2,))
    raises(f"params[{name!r}]", str(params[name].shape), str(bad.shape),
           call=lambda: run_sequence(CFG, {**params, name: bad}, x, z, m))
    short = np.zeros((params[name].shape[0] + 1,) + params[name].shape[1:])
    raises(f"params[{name!r}]", str(params[name].shape), str(short.shape),
           call=lambda: run_sequence(CFG, {**params, name: short}, x, z, m))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_param_names_array_and_index(good, value):
    params, x, z, m = good
    w = params["output.weight"].copy()
    w[1, 2] = value
    raises("params['output.weight']", "finite", "(1, 2)",
           call=lambda: run_sequence(CFG, {**params, "output.weight": w}, x, z, m))


@pytest.mark.parametrize("which", [1, 2, 3])
def test_non_finite_data_names_array(good, which):
    args = list(good)
    args[which] = args[which].copy()
    args[which][(1,) * args[which].ndim] = np.nan
    name = ("inputs", "targets", "mask")[which - 1]
    raises(name, "finite", call=lambda: run_sequence(CFG, *args))


def test_unknown_and_missing_param_names(good):
    params, x, z, m = good
    extra = {**params, "controler.weight": params["controller.weight"]}
    raises("unknown", "'controler.weight'", call=lambda: run_sequence(CFG, extra, x, z, m))
    missing = {k: v for k, v in params.items() if k != "init.read"}
    raises("missing", "'init.read'", call=lambda: run_sequence(CFG, missing, x, z, m))
    raises("params", "dict", call=lambda: run_sequence(CFG, list(params.values()), x, z, m))


def test_wrong_data_shapes_and_ranks(good):
    params, x, z, m = good
    raises("inputs", "[T, X=3]", "(1, 4, 3)",
           call=lambda: run_sequence(CFG, params, x[None], z, m))
    raises("inputs", "[T, X=3]", "(4, 2)",
           call=lambda: run_sequence(CFG, params, x[:, :2], z, m))
    raises("targets", "[T, Y=2]", "(4, 3)",
           call=lambda: run_sequence(CFG, params, x, np.zeros((T, 3)), m))
    raises("mask", "[T]", "(4, 1)", call=lambda: run_sequence(CFG, params, x, z, m[:, None]))
    raises("targets", "(3, 2)", "(4, 3)",
           call=lambda: run_sequence(CFG, params, x, z[:3], m))
    raises("inputs", "[B, T, X=3]", "(4, 3)",
           call=lambda: run_batch(CFG, params, x, z[None], m[None]))
    raises("inputs", "at least one", call=lambda: run_sequence(CFG, params, x[:0], z[:0], m[:0]))
    raises("mask", "non-negative", "(2,)",
           call=lambda: run_sequence(CFG, params, x, z, np.array([1.0, 1.0, -1.0, 1.0])))


def test_bad_dtypes(good):
    params, x, z, m = good
    raises("dtype", "float8", call=lambda: run_sequence(CFG, *good, dtype="float8"))   # float16: a mode
    raises("inputs", "dtype", call=lambda: run_sequence(CFG, params, x.astype(complex), z, m))
    raises("params['output.bias']", "dtype",
           call=lambda: run_sequence(CFG, {**params, "output.bias": np.array(["a", "b"])},
                                     x, z, m))
    raises("config", "NTMConfig", call=lambda: run_sequence(CFG.to_dict(), *good))


@pytest.mark.parametrize("field, value", [
    ("input_size", 0), ("output_size", -1), ("memory_rows", 2.0), ("memory_width", True),
    ("read_heads", None), ("write_heads", "1"), ("controller_size", 0)])
def test_bad_sizes(field, value):
    raises(f"NTMConfig.{field}", ">= 1", repr(value),
           call=lambda: NTMConfig(**{**CFG.to_dict(), field: value}))


@pytest.mark.parametrize("shifts, fragment", [((0, 0, 1), "distinct"), ((), "non-empty"),
                                              ((0.5, 1), "integers"), (3, "sequence"),
                                              ((True, 0), "integers")])
def test_bad_shifts(shifts, fragment):
    raises("NTMConfig.shifts", fragment, call=lambda: NTMConfig(3, 2, shifts=shifts))


def test_bad_controller_model_and_dict():
    raises("NTMConfig.controller", "'gru'", call=lambda: NTMConfig(3, 2, controller="gru"))
    raises("NTMConfig.model", "'dnc'", call=lambda: NTMConfig(3, 2, model="dnc"))
    raises("unknown", "'memory_size'",
           call=lambda: NTMConfig.from_dict({**CFG.to_dict(), "memory_size": 3}))
    raises("missing", "'output_size'", call=lambda: NTMConfig.from_dict({"input_size": 3}))
    raises("dict", call=lambda: NTMConfig.from_dict([3, 2]))
    assert NTMConfig.from_dict(CFG.to_dict()) == CFG


def test_unknown_regime():
    raises("regime", "'flat'", "sharp", call=lambda: init_params(CFG, 0, "flat"))
