"""Synthetic features with known cluster structure, shared by the tests."""
from typing import Tuple

import numpy as np


def make_gmm(num: int, num_clusters: int, dim: int, seed: int = 0,
             spread: float = 0.05, normalize: bool = True
             ) -> Tuple[np.ndarray, np.ndarray]:
    """Points around ``num_clusters`` random unit directions.

    Args:
        num (int): Number of points.
        num_clusters (int): Number of mixture components.
        dim (int): Dimension.
        seed (int): Random seed.
        spread (float): Standard deviation of the noise per dimension.
        normalize (bool): L2-normalise the points (as ClusterFit features).

    Returns:
        tuple: ``(num, dim)`` float32 points and ``(num,)`` true components.
    """
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_clusters, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    truth = rng.integers(num_clusters, size=num)
    points = centers[truth] + spread * rng.normal(size=(num, dim))
    if normalize:
        points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), truth
