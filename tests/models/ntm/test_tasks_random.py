import numpy as np
import pytest

from diffmem.models.ntm.tasks import random_data


@pytest.mark.parametrize("mask_prob", [1e-9, 0.3, 1.0])
def test_random_data_shapes_ranges_and_mask(mask_prob):
    for seed in range(20):
        inputs, targets, mask = random_data(np.random.default_rng(seed), input_size=3,
                                            output_size=5, length=4, mask_prob=mask_prob)
        assert inputs.shape == (4, 3) and targets.shape == (4, 5) and mask.shape == (4,)
        assert np.all((targets >= 0) & (targets <= 1))
        assert set(np.unique(mask)) <= {0.0, 1.0} and mask.sum() >= 1
    if mask_prob == 1.0:
        assert mask.all()
    if mask_prob == 1e-9:
        assert mask.sum() == 1


def test_random_data_distributions():
    inputs, targets, _ = random_data(np.random.default_rng(0), input_size=50, output_size=50,
                                     length=200)
    # 10^4 draws: the standard errors are 0.01 (mean, N(0,1)) and 0.003 (mean, U[0,1]).
    assert abs(inputs.mean()) < 0.05 and abs(inputs.std() - 1) < 0.05
    assert abs(targets.mean() - 0.5) < 0.02
