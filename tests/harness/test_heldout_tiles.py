"""Held-out draws that no common tiling divides: every family's draws (through the seam,
so a family registered later is held to the same) leave a remainder for tiles of 16, 32,
64 and 128 in batch, steps and rows, and every seed's four draws include 3 heads where
the family has heads; a kernel that drops the partial tail of its batch chunks of 32
fails the default check's held-out cases on every seed."""

import numpy as np
import pytest

from diffmem.harness.heldout import descriptions, make_case
from diffmem.models import families
from diffmem.models.family import TILES, untiled

# 12 seeds x 4 draws per family: a DNC draw runs its admission check (forward passes in
# float64 and float32), so the seeds are kept few; `diffmem fuzz` explores sizes at scale.
SEEDS = range(12)
COUNT = 4   # the default --heldout


def _sizes(fam, case):
    cfg, _, inputs, _, _, _ = case.build()
    return dict(fam.sizes(cfg, inputs.shape[1]), batch=inputs.shape[0], steps=inputs.shape[1])


@pytest.mark.parametrize("name", sorted(families()))
def test_every_draw_leaves_a_remainder_for_every_tile(name):
    fam = families()[name]
    for seed in SEEDS:
        heads_seen = []
        for index in range(COUNT):
            case = fam.heldout(seed, index)
            sizes = _sizes(fam, case)
            for axis in ("batch", "steps", "rows"):
                n = sizes.get(axis)
                if n is not None:
                    assert all(n % t for t in TILES), (case.name, axis, n)
            heads_seen += list(sizes.get("heads", ()))
        if heads_seen:   # a family with heads
            assert 3 in heads_seen, (name, seed, heads_seen)


def test_untiled_draws_only_sizes_no_tile_divides():
    rng = np.random.default_rng(0)
    drawn = {untiled(rng, 1, 200) for _ in range(2000)}
    assert drawn == {n for n in range(1, 201) if n % 16}
    assert all((2 * n) % 16 for n in {untiled(rng, 1, 40, times=2) for _ in range(200)})
    with pytest.raises(ValueError, match="no size"):
        untiled(rng, 16, 16)


def test_batch_chunk_bug_fails_the_held_out_cases_of_every_seed():
    """The check's held-out cases of each seed include one that a batch chunk of 32
    dropping its partial tail gets wrong, and that a correct backend passes; run here on
    the cheapest such draw of each seed (the property above makes it one of every seed's
    draws)."""
    from diffmem.backends.protocol import load_backend
    from diffmem.backends.scale_bugs import batch_chunk_32
    from diffmem.harness.compare import FAIL, PASS, run_case
    buggy, correct = batch_chunk_32("cpu", "float64"), load_backend("torch", "cpu", "float64")
    for seed in range(3):
        exposed = {}   # batch * steps of the draws with a batch over 32 and a tail
        for d in descriptions(seed, COUNT):
            inputs = families()[d["family"]].heldout(seed, d["index"]).build()[2]
            if inputs.shape[0] > 32 and inputs.shape[0] % 32:
                exposed[d["name"]] = (inputs.shape[0] * inputs.shape[1], d)
        assert exposed, f"seed {seed}: no held-out draw leaves a tail for chunks of 32"
        case = make_case(min(exposed.values(), key=lambda v: v[0])[1])
        assert run_case(buggy, case, "float64", paths=False).status == FAIL, case.name
        assert run_case(correct, case, "float64", paths=False).status == PASS, case.name
