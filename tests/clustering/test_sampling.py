"""Seeded subsampling in bounded memory."""
import numpy as np
import pytest

from cf_mm.clustering.sampling import sample_indices, split_sample_sizes


@pytest.mark.parametrize('block_size', [None, 7, 1000])
def test_sample_is_sorted_unique_and_seeded(block_size):
    a = sample_indices(5000, 1234, seed=3, block_size=block_size)
    assert len(a) == 1234 and len(np.unique(a)) == 1234
    assert (np.diff(a) > 0).all() and a.min() >= 0 and a.max() < 5000
    np.testing.assert_array_equal(
        a, sample_indices(5000, 1234, seed=3, block_size=block_size))
    assert not np.array_equal(
        a, sample_indices(5000, 1234, seed=4, block_size=block_size))


def test_blocked_sample_is_uniform():
    # Every index is picked with probability num / total, blocks or not.
    hits = np.zeros(100)
    for seed in range(400):
        hits[sample_indices(100, 30, seed, block_size=9)] += 1
    freq = hits / 400
    assert abs(freq.mean() - 0.3) < 1e-9
    assert np.abs(freq - 0.3).max() < 0.1


def test_edges():
    np.testing.assert_array_equal(sample_indices(5, 5, 0), np.arange(5))
    assert len(sample_indices(5, 0, 0)) == 0
    with pytest.raises(ValueError, match='cannot sample 6 of 5'):
        sample_indices(5, 6, 0)


def test_split_sample_sizes():
    counts = split_sample_sizes([100, 0, 50, 850], 300, seed=1)
    assert counts.sum() == 300 and counts[1] == 0
    assert (counts <= [100, 0, 50, 850]).all()
    np.testing.assert_array_equal(
        counts, split_sample_sizes([100, 0, 50, 850], 300, seed=1))
