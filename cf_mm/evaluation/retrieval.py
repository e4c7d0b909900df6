"""Image retrieval Recall@K by cosine similarity (CompRess, Table 4).

Every image of an evaluation set is a query; the database is every *other*
image of the set (the CUB-200 / Cars-196 protocol). Recall@K is the fraction
of queries with at least one image of their class among their K nearest
neighbours by cosine similarity. Framework-free (numpy only).
"""
from typing import Dict, Sequence

import numpy as np

from .knn import _check_features, _check_labels, l2_normalize


def recall_at_k(feats: np.ndarray,
                labels: np.ndarray,
                ks: Sequence[int] = (1, 2, 4, 8),
                chunk_size: int = 1024) -> Dict[int, float]:
    """Recall@K of leave-one-out retrieval within one set.

    Args:
        feats (np.ndarray): ``(N, D)`` features (L2-normalised here).
        labels (np.ndarray): ``(N,)`` class of each image.
        ks (Sequence[int]): The K values, each ``< N``.
        chunk_size (int): Queries per similarity block (memory
            ``chunk_size x N``).

    Returns:
        dict: K -> Recall@K in percent.
    """
    feats = l2_normalize(_check_features(feats, 'feats'))
    labels = _check_labels(labels, len(feats), 'labels')
    ks = sorted({int(k) for k in ks})
    num = len(feats)
    if not ks or ks[0] < 1 or ks[-1] >= num:
        raise ValueError(f'every K must be in [1, {num - 1}] for {num} '
                         f'images, got {ks}')
    kmax = ks[-1]
    hits = {k: 0 for k in ks}
    for start in range(0, num, chunk_size):
        stop = min(start + chunk_size, num)
        sims = feats[start:stop] @ feats.T
        sims[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        # The kmax most similar (unordered), then ordered by similarity;
        # ties broken by index for determinism.
        top = np.argpartition(-sims, kmax - 1, axis=1)[:, :kmax]
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.lexsort((top, -top_sims), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        match = labels[top] == labels[start:stop, None]
        for k in ks:
            hits[k] += int(match[:, :k].any(axis=1).sum())
    return {k: 100.0 * hits[k] / num for k in ks}
