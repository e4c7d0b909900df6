"""The k-means result, cluster-size statistics and the label files on disk.

``save_cluster_result`` writes ``labels.npy``, ``centroids.npy`` and
``summary.json``. Each file is written to a temporary name and moved into
place with ``os.replace``; ``summary.json`` is removed first and written last,
so it marks a complete result: a crash leaves either no summary or a summary
whose label file is complete and belongs to it.
"""
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import IO, Callable, Dict, List, Optional

import numpy as np

LABELS_FILE = 'labels.npy'
CENTROIDS_FILE = 'centroids.npy'
SUMMARY_FILE = 'summary.json'


@dataclass
class KMeansResult:
    """Output of :func:`cf_mm.clustering.kmeans`.

    Attributes:
        centroids (np.ndarray): ``(K, D)`` float32.
        labels (np.ndarray): ``(N,)`` int64, the cluster of every input point
            (not only of the training sample), in input order.
        objective (List[float]): Objective (sum of squared L2 distances to the
            nearest centroid) on the training sample at every iteration,
            measured with the centroids that iteration started from.
        final_objective (float): Sum of squared distances of all N points to
            their assigned (final) centroid.
        stats (Dict[str, float]): :func:`cluster_size_stats` of ``labels``.
        num_train_points (int): Size of the training sample.
        backend (str): Backend that trained the centroids.
        timings (Dict[str, float]): Seconds spent per phase.
        full_objective (List[float]): Objective on all N points of every
            streamed full-data iteration (``num_full_iters``), if any.
    """
    centroids: np.ndarray
    labels: np.ndarray
    objective: List[float]
    final_objective: float
    stats: Dict[str, float]
    num_train_points: int
    backend: str = ''
    timings: Dict[str, float] = field(default_factory=dict)
    full_objective: List[float] = field(default_factory=list)

    @property
    def num_clusters(self) -> int:
        return int(self.centroids.shape[0])


def cluster_sizes(labels: np.ndarray, num_clusters: int) -> np.ndarray:
    """Number of points per cluster, ``(K,)`` int64, with range checks."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f'labels must be 1-D, got shape {labels.shape}')
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'labels must be integers, got {labels.dtype}')
    if labels.size and (labels.min() < 0 or labels.max() >= num_clusters):
        raise ValueError(
            f'labels must lie in [0, {num_clusters}), found '
            f'[{int(labels.min())}, {int(labels.max())}]')
    return np.bincount(labels.astype(np.int64, copy=False),
                       minlength=num_clusters)


def size_stats_from_counts(counts: np.ndarray) -> Dict[str, float]:
    """:func:`cluster_size_stats` from per-cluster counts."""
    counts = np.asarray(counts, dtype=np.int64)
    num_points = int(counts.sum())
    mean = num_points / max(len(counts), 1)
    return dict(
        num_clusters=int(len(counts)),
        num_points=num_points,
        min=int(counts.min()),
        max=int(counts.max()),
        mean=float(mean),
        median=float(np.median(counts)),
        std=float(counts.std()),
        empty=int((counts == 0).sum()),
        # max / mean: 1 for perfectly balanced clusters.
        imbalance=float(counts.max() / mean) if mean > 0 else 0.0,
    )


def cluster_size_stats(labels: np.ndarray,
                       num_clusters: int) -> Dict[str, float]:
    """Statistics of the cluster sizes.

    Args:
        labels (np.ndarray): ``(N,)`` integer cluster ids in ``[0, K)``.
        num_clusters (int): K (clusters without points count as empty).

    Returns:
        dict: ``num_clusters``, ``num_points``, ``min``, ``max``, ``mean``,
        ``median``, ``std`` (of the sizes), ``empty`` (number of clusters
        with no point) and ``imbalance`` (``max / mean``).
    """
    if int(num_clusters) < 1:
        raise ValueError(f'num_clusters must be positive, got {num_clusters}')
    return size_stats_from_counts(cluster_sizes(labels, int(num_clusters)))


def _atomic_write(path: str, write: Callable[[IO], None],
                  mode: str = 'wb') -> None:
    """Write through ``write(file)`` to a temp file, fsync, then rename."""
    tmp = f'{path}.tmp-{os.getpid()}'
    try:
        with open(tmp, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_cluster_result(out_dir: str, result: KMeansResult,
                        meta: Optional[dict] = None) -> None:
    """Write ``labels.npy``, ``centroids.npy`` and ``summary.json``.

    Args:
        out_dir (str): Output directory (created if missing).
        result (KMeansResult): The clustering; ``labels[i]`` is the cluster of
            sample id ``i``.
        meta (dict, optional): Anything JSON-serialisable to keep in the
            summary (e.g. the feature source, a fingerprint).
    """
    labels = np.asarray(result.labels, dtype=np.int64)
    centroids = np.asarray(result.centroids, dtype=np.float32)
    if centroids.ndim != 2:
        raise ValueError(f'centroids must be (K, D), got {centroids.shape}')
    cluster_sizes(labels, centroids.shape[0])  # validates the label range
    os.makedirs(out_dir, exist_ok=True)
    summary_file = osp.join(out_dir, SUMMARY_FILE)
    # The summary vouches for the label file: drop it before touching labels.
    if osp.exists(summary_file):
        os.remove(summary_file)
    _atomic_write(osp.join(out_dir, LABELS_FILE), lambda f: np.save(f, labels))
    _atomic_write(osp.join(out_dir, CENTROIDS_FILE),
                  lambda f: np.save(f, centroids))
    summary = dict(
        num_clusters=int(centroids.shape[0]),
        num_samples=int(labels.shape[0]),
        dim=int(centroids.shape[1]),
        num_train_points=int(result.num_train_points),
        backend=result.backend,
        stats=result.stats,
        objective=[float(v) for v in result.objective],
        full_objective=[float(v) for v in result.full_objective],
        final_objective=float(result.final_objective),
        timings=result.timings,
        meta=meta or {},
    )
    # Short aliases used by readers of the summary.
    summary['K'] = summary['num_clusters']
    summary['N'] = summary['num_samples']
    _atomic_write(summary_file,
                  lambda f: json.dump(_jsonable(summary), f, indent=2), 'w')


def load_labels(path: str) -> np.ndarray:
    """Load a label file written by :func:`save_cluster_result`.

    Args:
        path (str): ``labels.npy`` or the directory holding it.

    Returns:
        np.ndarray: ``(N,)`` int64 labels, ``labels[i]`` for sample id ``i``.
    """
    if osp.isdir(path):
        path = osp.join(path, LABELS_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    try:
        labels = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f'corrupt label file {path}: {err}') from err
    if not isinstance(labels, np.ndarray) or labels.ndim != 1:
        raise ValueError(f'label file {path} must hold a 1-D array, got '
                         f'shape {getattr(labels, "shape", None)}')
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f'label file {path} must hold integers, got '
                         f'{labels.dtype}')
    if labels.size and labels.min() < 0:
        raise ValueError(f'label file {path} holds negative labels')
    summary_file = osp.join(osp.dirname(path), SUMMARY_FILE)
    if osp.isfile(summary_file):
        try:
            with open(summary_file) as f:
                summary = json.load(f)
        except ValueError as err:
            raise ValueError(f'corrupt summary {summary_file}: {err}') from err
        expected = summary.get('num_samples')
        if expected is not None and int(expected) != len(labels):
            raise ValueError(
                f'{path} holds {len(labels)} labels but {summary_file} '
                f'says {expected} samples (mixed results?)')
        num_clusters = summary.get('num_clusters')
        if num_clusters is not None and labels.size and \
                labels.max() >= int(num_clusters):
            raise ValueError(f'{path} holds label {int(labels.max())} >= '
                             f'K={num_clusters} of {summary_file}')
    return labels.astype(np.int64, copy=False)


def saved_num_clusters(path: str) -> Optional[int]:
    """K of a label file, from the ``summary.json`` beside it (None when
    there is none, e.g. a hand-made ``labels.npy``): clusters may be empty,
    so K can exceed ``labels.max() + 1``.

    Args:
        path (str): ``labels.npy`` or the directory holding it.
    """
    folder = path if osp.isdir(path) else osp.dirname(path)
    summary_file = osp.join(folder, SUMMARY_FILE)
    if not osp.isfile(summary_file):
        return None
    try:
        with open(summary_file) as f:
            num_clusters = json.load(f).get('num_clusters')
    except (ValueError, AttributeError) as err:
        raise ValueError(f'corrupt summary {summary_file}: {err}') from err
    return None if num_clusters is None else int(num_clusters)
