"""A kernel with flash-linear-attention's call signature is checked with one
``--backend fla-kernel:module:function``: the adapter packs nothing by hand, declares
unsupported what the kernel's signature or its flags cannot express, and a wrong kernel
fails by name."""

import pathlib
import sys

import numpy as np
import pytest

from diffmem.backends.protocol import load_backend
from diffmem.harness.compare import FAIL, PASS, UNSUPPORTED, run_case
from diffmem.harness.fixture_io import case_path, load_case

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GATED = "fla-kernel:examples.fla.naive:gated_delta_rule"


@pytest.fixture(scope="module")
def varlen():
    return load_case(case_path("gdn-varlen"))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_correct_kernel_passes(varlen, dtype):
    r = run_case(load_backend(GATED, "cpu", dtype), varlen, dtype, paths=False)
    assert r.status == PASS, [t.message for t in r.tensors if not t.passed]
    assert any(t.tensor == "grads/dht" for t in r.tensors)


def test_what_a_kernel_cannot_express_is_unsupported(varlen):
    ungated = load_backend("fla-kernel:examples.fla.naive:delta_rule", "cpu", "float64")
    assert "no 'g' argument" in run_case(ungated, varlen, "float64").unsupported
    no32 = load_backend(GATED + "+no-empty+no-float32", "cpu", "float32")
    assert run_case(no32, varlen, "float32").status == UNSUPPORTED
    no_empty = load_backend(GATED + "+no-empty", "cpu", "float64")
    assert "no empty sequences" in no_empty.supports(
        dict(varlen.config.to_dict(), cu_seqlens=[0, 3, 3, 6, 9, 200]))


def test_a_kernel_called_with_beta_out_of_place_fails(varlen):
    # fla 0.6.0's fused-recurrent kernel has gk, gv between g and beta: a caller passing
    # beta by position sets gk and leaves beta at its default; here beta = 1 by default.
    class Positional:
        pass
    from examples.fla import naive

    def wrong(q, k, v, g, beta, **kw):
        return naive.gated_delta_rule_positional(q, k, v, g, beta, **kw)
    Positional.wrong = staticmethod(wrong)
    sys.modules["_fla_positional"] = Positional
    r = run_case(load_backend("fla-kernel:_fla_positional:wrong", "cpu", "float64"), varlen,
                 "float64", paths=False)
    assert r.status == FAIL and "no trace" in r.first_divergence


def test_bad_specs_are_one_line():
    with pytest.raises(ValueError, match="cannot import module 'no_such_pkg'"):
        load_backend("fla-kernel:no_such_pkg:kernel", "cpu", "float32")
    with pytest.raises(ValueError, match="flag 'fast'"):
        load_backend(GATED + "+fast", "cpu", "float32")
    be = load_backend(GATED, "cpu", "float64")
    stack = dict(model="stack", input_size=4, output_size=3)
    assert "runs delta/1 only" in be.supports(stack)
