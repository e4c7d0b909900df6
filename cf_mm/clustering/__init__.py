"""Framework-free clustering core (numpy / torch / faiss only, no mm* imports)."""
from .assign import FaissNearest, TorchNearest, assign
from .baselines import (METHODS, allocate_clusters, cluster, cluster_sweep,
                        per_label_clusters, prototype_clusters)
from .kmeans import kmeans
from .results import (KMeansResult, cluster_size_stats, load_labels,
                      save_cluster_result)
from .sampling import sample_indices

__all__ = [
    'kmeans', 'KMeansResult', 'assign', 'cluster_size_stats',
    'save_cluster_result', 'load_labels', 'sample_indices', 'FaissNearest',
    'TorchNearest', 'METHODS', 'cluster', 'cluster_sweep',
    'prototype_clusters', 'per_label_clusters', 'allocate_clusters'
]
