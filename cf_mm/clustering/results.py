"""The k-means result, cluster-size statistics and the label files on disk.

``save_cluster_result`` writes ``labels.npy``, ``centroids.npy`` and
``summary.json``, each published whole or not at all
(:func:`cf_mm.utils.atomic.atomic_write`); ``summary.json`` is removed first
and written last, so it marks a complete result, and it records the SHA-256
of the two ``.npy`` files: a crash leaves either no summary or a summary
whose files are complete and belong to it, and a file replaced later (by
another valid array) no longer matches it (:func:`verify_result_files`).
"""
import hashlib
import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from cf_mm.utils.atomic import atomic_write, npy_bytes
from cf_mm.utils.fingerprint import file_sha256
from cf_mm.utils.npy import read_npy_header

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


class DegenerateClustering(ValueError):
    """Most clusters are empty, or one cluster holds most samples."""


def check_not_degenerate(stats: Dict[str, float], what: str,
                         accept: str) -> None:
    """Raise :class:`DegenerateClustering` for a degenerate clustering.

    Degenerate: more than half of the K clusters are empty, or one cluster
    holds more than half of the samples *and* more than 4 times the mean
    cluster size N/K. (A majority cluster alone is common at small K on
    unbalanced data.) Such labels mean the features barely differ, e.g. an
    N_pre with broken or all-zero weights; training on them gives a network
    that learns almost nothing.

    Args:
        stats (dict): :func:`cluster_size_stats` of the labels.
        what (str): Whose clustering, for the message.
        accept (str): The setting that accepts it, for the message.
    """
    k, n = int(stats['num_clusters']), int(stats['num_points'])
    problems = []
    if stats['empty'] * 2 > k:
        problems.append(f"{stats['empty']} of the {k} clusters are empty")
    if stats['max'] * 2 > n and stats['max'] * k > 4 * n:
        problems.append(f"one cluster holds {stats['max']} of the {n} "
                        'samples')
    if problems:
        raise DegenerateClustering(
            f'{what}: degenerate clustering ({"; ".join(problems)}): the '
            'features barely differ (an untrained or broken N_pre, e.g. '
            f'all-zero weights?). No labels were written; set {accept} to '
            'train on them anyway')


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
    files = {LABELS_FILE: npy_bytes(labels), CENTROIDS_FILE: npy_bytes(centroids)}
    os.makedirs(out_dir, exist_ok=True)
    summary_file = osp.join(out_dir, SUMMARY_FILE)
    # The summary vouches for the label file: drop it before touching labels.
    if osp.exists(summary_file):
        os.remove(summary_file)
    for name, data in files.items():
        atomic_write(osp.join(out_dir, name), data)
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
        # The identity of the files this summary vouches for.
        sha256={name: hashlib.sha256(data).hexdigest()
                for name, data in files.items()},
        meta=meta or {},
    )
    # Short aliases used by readers of the summary.
    summary['K'] = summary['num_clusters']
    summary['N'] = summary['num_samples']
    atomic_write(summary_file, json.dumps(_jsonable(summary), indent=2))


def read_summary(out_dir: str) -> dict:
    """The ``summary.json`` of a label directory."""
    with open(osp.join(out_dir, SUMMARY_FILE)) as f:
        return json.load(f)


def agreement_with_labels(clusters: np.ndarray,
                          labels: Optional[np.ndarray]) -> dict:
    """NMI and ARI (scikit-learn's) of clusters against real labels.

    Args:
        clusters (np.ndarray): ``(N,)`` cluster ids.
        labels (np.ndarray, optional): ``(N,)`` integer class labels; None,
            multi-label or unlabelled (negative) entries give ``{}``.

    Returns:
        dict: ``{'nmi': float, 'ari': float}`` or ``{}``.
    """
    from sklearn.metrics import (adjusted_rand_score,
                                 normalized_mutual_info_score)
    if labels is None:
        return {}
    try:
        labels = np.asarray(labels)
    except ValueError:  # ragged multi-label lists
        return {}
    if (labels.shape != np.shape(clusters)
            or not np.issubdtype(labels.dtype, np.integer)
            or (labels.size and labels.min() < 0)):
        return {}
    return dict(nmi=float(normalized_mutual_info_score(labels, clusters)),
                ari=float(adjusted_rand_score(labels, clusters)))


def label_statistics(summary: dict, clusters: np.ndarray,
                     class_labels: Optional[np.ndarray] = None) -> dict:
    """What a ClusterFit run logs about one label set.

    Args:
        summary (dict): Its ``summary.json``.
        clusters (np.ndarray): ``(N,)`` cluster ids.
        class_labels (np.ndarray, optional): The dataset's own labels.

    Returns:
        dict: ``stats`` (cluster sizes, plus ``nmi``/``ari`` against the
        class labels when they are single-label integers) and the k-means
        ``objective`` / ``full_objective`` per iteration.
    """
    stats = dict(summary.get('stats', {}))
    stats.update(agreement_with_labels(clusters, class_labels))
    return dict(stats=stats,
                objective=list(summary.get('objective', [])),
                full_objective=list(summary.get('full_objective', [])))


def verify_result_files(out_dir: str, summary: Optional[dict] = None,
                        names=(LABELS_FILE, )) -> None:
    """Raise ``ValueError`` unless the files of a label directory are the
    ones its ``summary.json`` records (SHA-256; summaries written before
    the hashes were recorded are not checked).

    Args:
        out_dir (str): The label directory.
        summary (dict, optional): Its summary (read when omitted).
        names (Sequence[str]): The files to check.
    """
    summary = read_summary(out_dir) if summary is None else summary
    recorded = summary.get('sha256') or {}
    for name in names:
        if name not in recorded:
            continue
        path = osp.join(out_dir, name)
        actual = file_sha256(path)
        if actual != recorded[name]:
            raise ValueError(
                f'{path} is not the file {osp.join(out_dir, SUMMARY_FILE)} '
                f'vouches for (SHA-256 {actual[:12]}... instead of '
                f'{recorded[name][:12]}...): replaced or edited after '
                'clustering')


def load_labels(path: str, verify: bool = True) -> np.ndarray:
    """Load a label file written by :func:`save_cluster_result`.

    The ``.npy`` header is checked (1-D integers, the file size it implies,
    the count of the summary) before anything is allocated, so a corrupt
    header claiming 10^12 labels is an error naming the file, not a failed
    7 TB allocation; with ``verify`` the file must also be the one its
    summary records (:func:`verify_result_files`).

    Args:
        path (str): ``labels.npy`` or the directory holding it.
        verify (bool): Check the SHA-256 recorded in ``summary.json``.

    Returns:
        np.ndarray: ``(N,)`` int64 labels, ``labels[i]`` for sample id ``i``.
    """
    if osp.isdir(path):
        path = osp.join(path, LABELS_FILE)
    if not osp.isfile(path):
        raise FileNotFoundError(f'label file not found: {path}')
    summary_file = osp.join(osp.dirname(path), SUMMARY_FILE)
    summary = {}
    if osp.isfile(summary_file):
        try:
            with open(summary_file) as f:
                summary = json.load(f)
        except ValueError as err:
            raise ValueError(f'corrupt summary {summary_file}: {err}') from err
        if not isinstance(summary, dict):
            raise ValueError(f'corrupt summary {summary_file}: not a dict')
    try:
        shape, dtype, _ = read_npy_header(path, ndim=1)
    except ValueError as err:
        raise ValueError(f'corrupt label file {path}: {err}') from err
    if not np.issubdtype(dtype, np.integer):
        raise ValueError(f'label file {path} must hold integers, got {dtype}')
    expected = summary.get('num_samples')
    if expected is not None and int(expected) != shape[0]:
        raise ValueError(
            f'{path} holds {shape[0]} labels but {summary_file} says '
            f'{expected} samples (mixed results?)')
    if verify and summary and osp.basename(path) == LABELS_FILE:
        verify_result_files(osp.dirname(path), summary)
    try:
        labels = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f'corrupt label file {path}: {err}') from err
    if labels.size and labels.min() < 0:
        raise ValueError(f'label file {path} holds negative labels')
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
