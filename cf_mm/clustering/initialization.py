"""Initial centroids of k-means: random training points or k-means++.

This module imports no mm* package.
"""
from typing import Optional

import numpy as np

from .distributed import DistContext

INITS = ('random', 'k-means++')


def random_init(train: np.ndarray, num_clusters: int, seed: int,
                dist: Optional[DistContext] = None) -> np.ndarray:
    """K distinct training points chosen with ``seed``.

    Under ``dist`` the points are chosen among the concatenation of every
    rank's training rows (rank order), so the result equals the single-process
    one when the ranks' rows concatenate to the single-process data.
    """
    import torch
    dist = dist or DistContext(False)
    sizes = dist.all_gather_int(len(train))
    offset = sum(sizes[:dist.rank])
    picks = np.random.default_rng(seed).choice(
        sum(sizes), num_clusters, replace=False)
    init = np.zeros((num_clusters, train.shape[1]), dtype=np.float32)
    mine = (picks >= offset) & (picks < offset + len(train))
    init[mine] = train[picks[mine] - offset]
    if dist.enabled:
        # Exactly one rank contributes each row: the sum is exact.
        init = dist.all_reduce(torch.from_numpy(init)).numpy()
    return init


def kmeans_plusplus_init(train: np.ndarray, num_clusters: int,
                         seed: int) -> np.ndarray:
    """Greedy k-means++ seeding on the training sample.

    Each new centroid is the best (lowest resulting potential) of
    ``2 + log K`` candidates drawn with probability proportional to the
    squared distance to the nearest chosen centroid, as in scikit-learn:
    plain D^2 sampling often puts two seeds in one cluster in high
    dimension. Costs O(n K D log K): meant for small K.
    """
    rng = np.random.default_rng([seed, 2])
    num = len(train)
    trials = 2 + int(np.log(num_clusters))
    sq_norms = np.einsum('ij,ij->i', train, train, dtype=np.float64)

    def sq_dist_to(rows: np.ndarray) -> np.ndarray:
        centers = train[rows]
        d2 = (sq_norms[:, None] - 2.0 * (train @ centers.T) +
              sq_norms[rows][None, :])
        return np.maximum(d2, 0.0)

    chosen = [int(rng.integers(num))]
    closest = sq_dist_to(np.array(chosen))[:, 0]
    for _ in range(1, num_clusters):
        total = closest.sum()
        if total <= 0:  # fewer distinct points than K: any unused point
            unused = np.setdiff1d(np.arange(num), chosen)
            row = int(rng.choice(unused))
            chosen.append(row)
            continue
        cands = np.searchsorted(np.cumsum(closest),
                                rng.random(trials) * total, side='right')
        cands = np.minimum(cands, num - 1)
        merged = np.minimum(closest[:, None], sq_dist_to(cands))
        best = int(merged.sum(axis=0).argmin())
        chosen.append(int(cands[best]))
        closest = merged[:, best]
    return np.ascontiguousarray(train[chosen], dtype=np.float32)
