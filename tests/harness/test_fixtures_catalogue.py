"""The bundled fixtures: up to date with the catalogue, covering HARNESS.md section 2's
semantic space, small, and still what the frozen reference computes (the freeze guard)."""

import numpy as np
import pytest

from diffmem.harness import catalogue as cat
from diffmem.models.ntm import cases as ntm_cases
from diffmem.harness.fixture_gen import verify_case
from diffmem.harness.fixture_io import (case_names, case_path, default_fixture_dir,
                                        list_cases, read_manifest)

# Cheap cases re-run by the freeze guard here; `diffmem fixtures verify` runs them all.
VERIFIED_HERE = ("ntm-random-ff-n1-init", "ntm-copy-lstm-n2-sharp",
                 "ntm-random-lstm-multihead-wide-sharp")


@pytest.fixture(scope="module")
def all_cases():
    return {c.name: c for c in list_cases()}


@pytest.fixture(scope="module")
def cases(all_cases):
    return {n: c for n, c in all_cases.items() if c.model.name == "ntm"}   # the NTM's space


def test_bundled_fixtures_match_the_catalogue():
    assert case_names() == sorted(cat.catalogue()), \
        "fixtures/ is out of date with harness/catalogue.py: run `diffmem fixtures generate`"
    assert set(read_manifest(default_fixture_dir())["cases"]) == set(cat.catalogue())


def test_stored_inputs_are_what_the_catalogue_builds(all_cases):
    # Catches drift of the task generators or of init_params without running the reference.
    for name, spec in cat.catalogue().items():
        config, params, inputs, targets, mask, meta = cat.build(spec)
        case = all_cases[name]
        assert case.config == config, name
        assert case.meta == meta, name
        for k in params:
            np.testing.assert_array_equal(case.params[k], params[k], err_msg=f"{name} {k}")
        for got, want in ((case.inputs, inputs), (case.targets, targets), (case.mask, mask)):
            # Within a few ulps: numpy's exp (the Stack-RNN's soft targets) rounds differently
            # in its last bit on CPUs with and without AVX-512; drift is far larger.
            np.testing.assert_allclose(got, want, rtol=1e-15, atol=0, err_msg=name)


def test_total_size_is_a_few_megabytes():
    # float64, float32 and the emulated low-precision runs of every family's small cases:
    # 9.2 MB for the NTM and the stacks; delta/1's 17 cases are sized by DELTA.md (B x T up
    # to 2 x 200 so that chunk edges and tails occur, its state trace strided to keep them
    # small) and take 20.7 MB, at most 2.3 MB a case; dnc/1's 15 cases (link traces
    # [B, T, N, N]) take 4.07 MB with the modes' baselines (2.14 MB without): 34.68 MB in
    # all, hence 36 MB here (models/dnc/README.md, "Precisions").
    sizes = {p.name: p.stat().st_size for p in default_fixture_dir().glob("*.npz")}
    assert max(sizes.values()) < 2.5e6, max(sizes.items(), key=lambda kv: kv[1])
    assert sum(sizes.values()) < 36e6, f"fixtures take {sum(sizes.values()) / 1e6:.2f} MB"


def test_every_stored_result_is_finite(all_cases):
    # The emulated float16 run may overflow (65504) where a gradient is amplified: a real
    # float16 kernel does too, and the harness holds such tensors to the noise bound.
    for name, case in all_cases.items():
        for dtype, r in case.expected.items():
            if dtype == "float16" or not isinstance(r, dict):
                continue
            arrays = {"logits": r["logits"], "loss": r["loss"], "grad_inputs": r["grad_inputs"],
                      **{f"grads/{k}": v for k, v in r["grads"].items()},
                      **{f"trace/{k}": v for k, v in r["trace"].items()}}
            for key, arr in arrays.items():
                assert np.isfinite(arr).all(), f"{name} {dtype}/{key}"


def test_coverage_of_the_semantic_space(cases):
    cfgs = [c.config for c in cases.values()]
    assert {c.controller for c in cfgs} == {"feedforward", "lstm"}
    assert any(c.R == 1 and c.Wh == 1 for c in cfgs)
    assert any(c.R > 1 and c.controller == "feedforward" for c in cfgs)
    assert any(c.R > 2 and c.Wh > 1 and c.controller == "lstm" for c in cfgs)
    assert any(c.shifts == (-1, 0, 1) for c in cfgs)
    assert any(len(c.shifts) > 3 for c in cfgs)
    # Shifts wrap onto one row: N = 1, and N = 2 with more shifts than rows.
    assert any(c.N == 1 for c in cfgs) and any(c.N == 2 and c.S > 2 for c in cfgs)
    assert any(c.steps >= 100 for c in cases.values())
    assert {c.meta["data"]["task"] for c in cases.values()} == {
        "copy", "repeat_copy", "associative_recall", "dynamic_ngrams", "priority_sort", "random"}
    assert {"init", "sharp", "extreme_logits"} <= {c.meta["regime"] for c in cases.values()}
    # Non-binary mask weights (the loss takes any non-negative weight).
    assert any(((c.mask > 0) & (c.mask != 1)).any() for c in cases.values())


def test_ragged_batches_have_zero_padding(cases):
    ragged = [c for c in cases.values() if len(set(c.meta["data"]["lengths"])) > 1]
    assert len(ragged) >= 5
    for c in ragged:
        for b, n in enumerate(c.meta["data"]["lengths"]):
            assert not c.mask[b, n:].any() and not c.inputs[b, n:].any(), (c.name, b)


def test_extreme_cases_have_logits_beyond_50(cases):
    extreme = [c for c in cases.values() if c.meta["regime"] == "extreme_logits"]
    assert len(extreme) >= 3
    for c in extreme:
        assert np.abs(c.expected["float64"]["logits"]).max() > 50, c.name


def test_sharp_cases_attend_nearly_one_hot(cases):
    sharp = [c for c in cases.values() if c.meta["regime"] == "sharp" and c.config.N > 2]
    assert len(sharp) >= 4
    for c in sharp:
        # Sharpening with gamma ~ 11 concentrates the initial-step write weight.
        w = c.expected["float64"]["trace"]["write.weight"][:, 0]
        assert np.median(w.max(axis=-1)) > 0.9, c.name


def test_zero_norm_cases(cases):
    # Some init.memory rows are exactly zero (cosine against a zero row: DELTA in the norm).
    zero_rows = [c for c in cases.values() if (c.params["init.memory"] == 0).all(axis=1).any()]
    assert len(zero_rows) >= 3
    assert any((c.params["init.memory"] == 0).all() for c in zero_rows)
    # Some heads have a key of exactly 0 at every step, write and read.
    def zero_key_heads(case, kind):
        keys = case.expected["float64"]["trace"][f"{kind}.key"]      # [B, T, heads, M]
        return np.flatnonzero((keys == 0).all(axis=(0, 1, 3)))

    for kind in ("write", "read"):
        zero_key = [c for c in cases.values() if zero_key_heads(c, kind).size]
        assert zero_key, kind
        for c in zero_key:      # a zero key has cosine 0 with every row: uniform w_content
            heads = zero_key_heads(c, kind)
            w = c.expected["float64"]["trace"][f"{kind}.w_content"][:, :, heads]
            np.testing.assert_allclose(w, 1.0 / c.config.N, rtol=1e-12, err_msg=c.name)


def test_pretrained_hook_only_lists_cases_whose_model_exists():
    names, skipped = set(cat.catalogue()), {name for name, _ in cat.skipped()}
    for spec in ntm_cases.PRETRAINED_CASES:
        present = (ntm_cases.pretrained_dir() / f"{spec.pretrained}.npz").is_file()
        assert (spec.name in names) == present
        assert (spec.name in skipped) == (not present)


@pytest.mark.parametrize("name", VERIFIED_HERE)
def test_reference_still_reproduces_the_bundled_fixture(name):
    """The freeze guard on a few cheap cases; the full guard is `diffmem fixtures verify`."""
    assert verify_case(case_path(name)) == []


def test_pretrained_hook_builds_a_trained_case(tmp_path, monkeypatch):
    """A trained-model case takes config and params from the model file, data from its spec."""
    from diffmem.models.ntm.reference import NTMConfig, init_params
    from diffmem.training.modelfile import save_model

    config = NTMConfig.from_dict(ntm_cases.FF)
    params = init_params(config, 99, "init")
    save_model(tmp_path / "copy-test.npz", {"config": config.to_dict(),
                                            "task": {"name": "copy", "options": {"width": 4}}},
               params)
    monkeypatch.setattr(ntm_cases, "pretrained_dir", lambda: tmp_path)
    spec = ntm_cases.CaseSpec("ntm-copy-ff-trained-test", "hook test", None,
                              ntm_cases._copy(51), pretrained="copy-test", tags=("trained",))
    monkeypatch.setattr(ntm_cases, "PRETRAINED_CASES", (spec,))
    assert spec.name in cat.catalogue() and cat.skipped() == []
    got_config, got_params, inputs, _, _, meta = cat.build(cat.catalogue()[spec.name])
    assert got_config == config and meta["regime"] == "trained"
    assert meta["params_source"] == "pretrained/copy-test.npz"
    for k in params:
        np.testing.assert_array_equal(got_params[k], params[k])
    assert inputs.shape == (2, 16, 6)
