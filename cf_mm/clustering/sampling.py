"""Seeded uniform subsampling without replacement, in bounded memory.

``numpy``'s ``Generator.choice(n, m, replace=False)`` permutes all ``n``
indices once ``m`` is more than ~2% of ``n`` (8 GB of int64 for the 1B-image
recipe). :func:`sample_indices` splits the index space into blocks, draws how
many picks fall into each block from the multivariate hypergeometric law (the
exact law of a uniform sample without replacement), then samples inside each
block. The result is an exact uniform sample whose temporary memory is bounded
by the block size, and it is the same for the same ``(num_total, num, seed)``.
"""
from typing import Optional

import numpy as np

# 16M indices (128 MB of int64) per block at most.
SAMPLE_BLOCK = 1 << 24


def sample_indices(num_total: int, num: int, seed: int,
                   block_size: Optional[int] = None) -> np.ndarray:
    """Sorted indices of a uniform random subset of ``range(num_total)``.

    Args:
        num_total (int): Size of the population.
        num (int): Number of indices to draw (``0 <= num <= num_total``).
        seed (int | Sequence[int]): Seed; the same seed gives the same subset.
        block_size (int, optional): Population block size that bounds the
            temporary memory. Defaults to :data:`SAMPLE_BLOCK`.

    Returns:
        np.ndarray: ``(num,)`` int64, strictly increasing.
    """
    if not 0 <= num <= num_total:
        raise ValueError(f'cannot sample {num} of {num_total} items')
    block_size = block_size or SAMPLE_BLOCK
    rng = np.random.default_rng(seed)
    if num == num_total:
        return np.arange(num_total, dtype=np.int64)
    starts = np.arange(0, num_total, block_size, dtype=np.int64)
    sizes = np.minimum(block_size, num_total - starts)
    if len(sizes) == 1:
        counts = np.array([num])
    else:
        counts = rng.multivariate_hypergeometric(sizes, num,
                                                 method='marginals')
    out = np.empty(num, dtype=np.int64)
    pos = 0
    for start, size, count in zip(starts, sizes, counts):
        if count == 0:
            continue
        picked = rng.choice(int(size), int(count), replace=False)
        picked.sort()
        out[pos:pos + count] = picked + start
        pos += count
    return out


def split_sample_sizes(local_sizes, num: int, seed: int) -> np.ndarray:
    """How many of ``num`` uniform picks fall into each of several shards.

    Used by distributed k-means: every rank calls it with the same arguments
    and gets the same answer, then samples its own count from its own shard,
    so the union is a uniform sample of the concatenated shards.

    Args:
        local_sizes (Sequence[int]): Number of samples of every shard.
        num (int): Total sample size.
        seed (int): Seed shared by all ranks.

    Returns:
        np.ndarray: ``(len(local_sizes),)`` int64 counts summing to ``num``.
    """
    local_sizes = np.asarray(local_sizes, dtype=np.int64)
    if num > local_sizes.sum():
        raise ValueError(
            f'cannot sample {num} of {int(local_sizes.sum())} items')
    if len(local_sizes) == 1:
        return np.array([num], dtype=np.int64)
    rng = np.random.default_rng([seed, 0x5EED])
    return rng.multivariate_hypergeometric(
        local_sizes, num, method='marginals').astype(np.int64)
