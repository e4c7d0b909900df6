"""k-means for ClusterFit: one interface, faiss and torch backends behind it.

The recipe follows the paper at every scale: train the centroids on a seeded
random sample of at most ``max_train_points`` features (Lloyd iterations,
spherical by default: centroids are re-normalised after every update), then
assign every feature to its nearest centroid in one streaming pass
(:func:`cf_mm.clustering.assign`). Optionally, ``num_full_iters`` more Lloyd
iterations stream over all the data first (the 1B-image recipe of the paper's
appendix B: 30 iterations on 200M, then 5 on all 1B).

Backends (same initial centroids, same results up to float tolerance):

* ``'faiss'`` (and ``'auto'``): ``faiss.Clustering`` on an exact
  ``IndexFlatL2``; all GPUs faiss sees, CPU otherwise (blocked sgemm).
* ``'torch'``: Lloyd iterations written with torch GEMMs (TF32/bf16 on GPUs,
  with an exact fp32 re-check of the nearest candidates, see
  :class:`~cf_mm.clustering.assign.TorchNearest`). With ``distributed=True``
  under an initialised ``torch.distributed`` process group, every rank passes
  its own shard; per-cluster sums, counts and the objective are all-reduced,
  so no rank ever holds more than its shard, and every rank ends with the
  same centroids.

Both backends start from the same centroids for the same seed (``init``
picks them from the training sample), so the same seed and features give the
same labels. Empty clusters are refilled by splitting a large cluster, as
faiss does.

The steps of :func:`kmeans` are named functions here (backend choice,
validation, sampling, initialisation, training, statistics); initialisers
live in :mod:`.initialization`, Lloyd iterations in :mod:`.lloyd`,
torch.distributed helpers in :mod:`.distributed`.

This module imports no mm* package.
"""
import logging
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .assign import BACKENDS, assign, check_centroids
from .distributed import DistContext
from .initialization import INITS, kmeans_plusplus_init, random_init
from .lloyd import lloyd_faiss, lloyd_torch, streaming_lloyd
from .results import KMeansResult, size_stats_from_counts
from .sampling import split_sample_sizes
from .sources import as_feature_source, check_finite

__all__ = ['kmeans', 'random_init', 'kmeans_plusplus_init', 'DistContext']


def _logger(verbose: bool, logger: Optional[logging.Logger]
            ) -> Callable[[str], None]:
    if not verbose:
        return lambda msg: None
    if logger is not None:
        return logger.info
    return lambda msg: print(msg, flush=True)


def _check_num_clusters(num_clusters, num_points: int, what: str) -> int:
    if isinstance(num_clusters, bool) or not isinstance(
            num_clusters, (int, np.integer)):
        raise ValueError(f'num_clusters must be an integer, got '
                         f'{num_clusters!r}')
    num_clusters = int(num_clusters)
    if num_clusters < 2:
        raise ValueError(f'num_clusters must be at least 2, got '
                         f'{num_clusters}')
    if num_clusters > num_points:
        raise ValueError(f'num_clusters={num_clusters} exceeds the '
                         f'{num_points} {what}')
    return num_clusters


# ------------------------------------------------------------ named steps
def choose_backend(backend: str, distributed: bool) -> str:
    """``'faiss'`` or ``'torch'``: ``'auto'`` is faiss, torch when
    distributed (faiss clusters in one process)."""
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}: use one of '
                         f'{BACKENDS}')
    if distributed:
        if backend == 'faiss':
            raise ValueError("distributed k-means runs on the 'torch' "
                             "backend (faiss clusters in one process)")
        return 'torch'
    return 'faiss' if backend == 'auto' else backend


def check_schedule(num_iters: int, num_full_iters: int,
                   chunk_size: int) -> None:
    """Iteration counts and chunk size of a run."""
    if int(num_iters) < 1:
        raise ValueError(f'num_iters must be at least 1, got {num_iters}')
    if int(num_full_iters) < 0 or int(chunk_size) < 1:
        raise ValueError('num_full_iters must be >= 0 and chunk_size >= 1')


def resolve_init(init: Union[str, np.ndarray],
                 init_centroids: Optional[np.ndarray],
                 distributed: bool) -> Tuple[str, Optional[np.ndarray]]:
    """``(kind, centroids)``: kind is ``'array'`` (given centroids),
    ``'random'`` or ``'k-means++'``."""
    if isinstance(init, np.ndarray):
        return 'array', init
    if init_centroids is not None:
        return 'array', init_centroids
    if init not in INITS:
        raise ValueError(f'unknown init {init!r}: use one of {INITS} or an '
                         'array of centroids')
    if init == 'k-means++' and distributed:
        raise ValueError("init='k-means++' is single-process only; pass "
                         "init_centroids or use init='random'")
    return init, None


def training_sample(source, sizes: List[int],
                    max_train_points: Optional[int], seed: int,
                    dist: DistContext, keep_float16: bool
                    ) -> Tuple[np.ndarray, int]:
    """This rank's share of a seeded global uniform sample (all points when
    ``max_train_points`` is None or not smaller than N).

    Returns:
        tuple: The rank's training rows and the global sample size.
    """
    num_total = sum(sizes)
    source.check_finite()
    if max_train_points is not None and max_train_points < num_total:
        local = split_sample_sizes(sizes, int(max_train_points),
                                   seed)[dist.rank]
        sample_seed = [seed, dist.rank] if dist.enabled else seed
        train = source.sample(int(local), sample_seed, keep_float16)
        num_train = int(max_train_points)
    else:
        train, num_train = source.read_all(keep_float16), num_total
    check_finite(train, source.name)
    return train, num_train


def initial_centroids(kind: str, given: Optional[np.ndarray],
                      train: np.ndarray, num_clusters: int, dim: int,
                      seed: int, dist: DistContext) -> np.ndarray:
    """``(K, D)`` starting centroids of the kind :func:`resolve_init`
    chose."""
    if kind == 'array':
        start = check_centroids(given, dim)
        if start.shape[0] != num_clusters:
            raise ValueError(f'init_centroids has {start.shape[0]} rows, '
                             f'expected num_clusters={num_clusters}')
        return start
    if kind == 'k-means++':
        return kmeans_plusplus_init(
            np.asarray(train, dtype=np.float32), num_clusters, seed)
    return random_init(train, num_clusters, seed, dist)


def train_centroids(backend: str, train: np.ndarray, start: np.ndarray,
                    num_iters: int, spherical: bool, seed: int,
                    dist: DistContext, log: Callable[[str], None],
                    kernel: dict) -> Tuple[np.ndarray, List[float]]:
    """Lloyd iterations on the training sample with the chosen backend."""
    if backend == 'faiss':
        return lloyd_faiss(train, start, num_iters, spherical, seed,
                           log=log, gpu=kernel['gpu'])
    return lloyd_torch(
        train, start, num_iters, spherical, seed, dist=dist, log=log,
        device=kernel['device'], precision=kernel['precision'],
        recheck=kernel['recheck'], block_elements=kernel['block_elements'])


def global_statistics(labels: np.ndarray, dists: np.ndarray,
                      num_clusters: int, dist: DistContext
                      ) -> Tuple[Dict[str, float], float]:
    """Cluster-size statistics and final objective over all ranks."""
    import torch
    counts = dist.all_reduce(
        torch.from_numpy(np.bincount(labels, minlength=num_clusters)))
    final = dist.all_reduce(
        torch.tensor([dists.sum(dtype=np.float64)], dtype=torch.float64))
    return size_stats_from_counts(counts.numpy()), float(final.item())


# ----------------------------------------------------------------- interface
def kmeans(features,
           num_clusters: int,
           num_iters: int = 20,
           seed: int = 0,
           backend: str = 'auto',
           spherical: bool = True,
           max_train_points: Optional[int] = None,
           verbose: bool = False,
           *,
           init: Union[str, np.ndarray] = 'random',
           init_centroids: Optional[np.ndarray] = None,
           num_full_iters: int = 0,
           chunk_size: int = 65536,
           distributed: bool = False,
           gpu=None,
           device=None,
           precision: str = 'auto',
           recheck: Optional[int] = None,
           block_elements: Optional[int] = None,
           logger: Optional[logging.Logger] = None) -> KMeansResult:
    """Cluster features with k-means: train on a sample, assign everything.

    Args:
        features (np.ndarray | FeatureStore): ``(N, D)`` float16/float32
            array (an ``np.memmap`` works and is streamed) or a feature store.
            Under ``distributed=True``: this rank's shard. With the torch
            backend, float16 features keep their training sample in float16
            (half the host and device memory, same results).
        num_clusters (int): K, at least 2 and at most N.
        num_iters (int): Lloyd iterations on the training sample.
            Defaults to 20.
        seed (int): Seed of the sample, the initial centroids and the splits
            of empty clusters. Same seed + same features = same labels.
            Defaults to 0.
        backend (str): ``'auto'`` (faiss; torch when distributed),
            ``'faiss'`` or ``'torch'``. Defaults to ``'auto'``.
        spherical (bool): L2-normalise centroids after every update (for
            L2-normalised features). Defaults to True.
        max_train_points (int, optional): Train on a seeded uniform sample of
            at most this many points (over all ranks), then assign all.
            Defaults to None (train on all points).
        verbose (bool): Log the objective of every iteration (with the
            faiss backend, faiss's own per-iteration statistics, in the same
            objective scale) and the final statistics.
        init (str | np.ndarray): ``'random'`` (K distinct training points),
            ``'k-means++'`` (single process only) or a ``(K, D)`` array.
        init_centroids (np.ndarray, optional): Same as an array ``init``.
        num_full_iters (int): Extra Lloyd iterations streamed over all N
            points before the final assignment. Defaults to 0.
        chunk_size (int): Rows per chunk of the streaming passes.
        distributed (bool): Run over the ranks of the initialised default
            ``torch.distributed`` group (torch backend): features are this
            rank's shard, the returned labels are for this shard, centroids,
            objectives and statistics are global.
        gpu (int | bool, optional): faiss GPUs (None: all faiss sees).
        device, precision, recheck, block_elements: torch backend options,
            see :class:`~cf_mm.clustering.assign.TorchNearest`.
        logger (logging.Logger, optional): Where verbose lines go (default:
            stdout).

    Returns:
        KMeansResult: centroids, labels of every point, objectives, stats.
    """
    tic = time.perf_counter()
    log = _logger(verbose, logger)
    backend = choose_backend(backend, distributed)
    check_schedule(num_iters, num_full_iters, chunk_size)
    dist = DistContext(distributed)
    source = as_feature_source(features)
    sizes = dist.all_gather_int(source.num_samples)
    num_total = sum(sizes)
    num_clusters = _check_num_clusters(num_clusters, num_total,
                                       'points to cluster')
    if max_train_points is not None and int(max_train_points) < num_clusters:
        raise ValueError(f'max_train_points={max_train_points} is smaller '
                         f'than num_clusters={num_clusters}')
    init_kind, given = resolve_init(init, init_centroids, distributed)

    # torch converts per block; faiss wants the whole sample in float32.
    train, num_train = training_sample(source, sizes, max_train_points, seed,
                                       dist, keep_float16=backend == 'torch')
    timings: Dict[str, float] = dict(sample=time.perf_counter() - tic)
    log(f'k-means: K={num_clusters}, training on {num_train} of {num_total} '
        f'points (D={source.dim}), {num_iters} iterations, backend '
        f'{backend}, seed {seed}')
    start = initial_centroids(init_kind, given, train, num_clusters,
                              source.dim, seed, dist)

    kernel = dict(gpu=gpu, device=device, precision=precision,
                  recheck=recheck, block_elements=block_elements)
    tic = time.perf_counter()
    centroids, objective = train_centroids(backend, train, start, num_iters,
                                           spherical, seed, dist, log, kernel)
    timings['train'] = time.perf_counter() - tic
    del train

    full_objective: List[float] = []
    if num_full_iters:
        tic = time.perf_counter()
        centroids, full_objective = streaming_lloyd(
            source, centroids, int(num_full_iters), spherical, seed,
            int(chunk_size), backend, dist, log, **kernel)
        timings['full_iters'] = time.perf_counter() - tic

    tic = time.perf_counter()
    labels, dists = assign(source, centroids, chunk_size=int(chunk_size),
                           backend=backend, progress=log, **kernel)
    timings['assign'] = time.perf_counter() - tic
    stats, final = global_statistics(labels, dists, num_clusters, dist)
    timings['total'] = sum(timings.values())
    log(f'k-means: final objective {final:.6g} over {num_total} points; '
        f'cluster sizes min={stats["min"]} max={stats["max"]} '
        f'empty={stats["empty"]}')
    return KMeansResult(
        centroids=centroids,
        labels=labels,
        objective=[float(v) for v in objective],
        final_objective=final,
        stats=stats,
        num_train_points=num_train,
        backend=backend,
        timings=timings,
        full_objective=full_objective)
