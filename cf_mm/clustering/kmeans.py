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

This module imports no mm* package.
"""
import logging
import time
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .assign import (BACKENDS, TorchNearest, assign, check_centroids,
                     make_nearest, resolve_device)
from .results import KMeansResult, size_stats_from_counts
from .sampling import split_sample_sizes
from .sources import (as_feature_source, check_finite,
                      iter_checked_chunks)

INITS = ('random', 'k-means++')
# Relative perturbation that separates the two halves of a split cluster
# (faiss uses the same value).
SPLIT_EPS = 1.0 / 1024


class DistContext:
    """torch.distributed helpers, or no-ops in a single process.

    Args:
        enabled (bool): Use the default process group.
    """

    def __init__(self, enabled: bool = False):
        import torch
        self.enabled = enabled
        self.rank, self.world_size = 0, 1
        self.comm_device = torch.device('cpu')
        if enabled:
            import torch.distributed as dist
            if not (dist.is_available() and dist.is_initialized()):
                raise RuntimeError(
                    'distributed=True needs an initialised torch.distributed '
                    'process group (call init_process_group first)')
            self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
            if dist.get_backend() == 'nccl':
                self.comm_device = torch.device(
                    'cuda', torch.cuda.current_device())

    def all_reduce(self, tensor):
        """Sum ``tensor`` over ranks, in place; returns it."""
        if not self.enabled:
            return tensor
        import torch.distributed as dist
        if tensor.device == self.comm_device:
            dist.all_reduce(tensor)
        else:
            moved = tensor.to(self.comm_device)
            dist.all_reduce(moved)
            tensor.copy_(moved)
        return tensor

    def all_gather_int(self, value: int) -> List[int]:
        if not self.enabled:
            return [int(value)]
        import torch
        import torch.distributed as dist
        mine = torch.tensor([int(value)], dtype=torch.int64,
                            device=self.comm_device)
        every = [torch.zeros_like(mine) for _ in range(self.world_size)]
        dist.all_gather(every, mine)
        return [int(t.item()) for t in every]


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


# --------------------------------------------------------------- initialisers
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


# ------------------------------------------------------------------ updating
class FaissSplitRandom:
    """The random stream faiss uses to split empty clusters.

    faiss draws ``std::mt19937(1234)`` floats ``mt() / float(mt.max())``,
    restarting from the same seed at every iteration; numpy's legacy
    ``RandomState`` seeds MT19937 the same way, so the torch backend makes
    the same split choices as faiss.
    """

    def __init__(self, seed: int = 1234, buffer: int = 4096):
        self.state = np.random.RandomState(seed)
        self.buffer = buffer
        self.values = np.empty(0, dtype=np.float32)
        self.pos = 0

    def next(self) -> np.float32:
        if self.pos == len(self.values):
            raw = self.state.randint(0, 2**32, size=self.buffer,
                                     dtype=np.uint64).astype(np.float32)
            self.values = raw / np.float32(2**32 - 1)
            self.pos = 0
        self.pos += 1
        return self.values[self.pos - 1]


def update_centroids(sums, counts, previous, spherical: bool,
                     num_train: int):
    """New centroids from per-cluster sums and counts (torch tensors).

    Empty clusters take over half of a non-empty cluster exactly as faiss's
    ``split_clusters`` does: clusters are visited cyclically from 0, and
    cluster ``j`` is taken with probability ``(size_j - 1) / (n - K)``; the
    chosen centroid is copied and both copies are pushed apart by a relative
    ``SPLIT_EPS`` with alternating signs per dimension.

    Args:
        sums (torch.Tensor): ``(K, D)`` float64 sums of assigned points.
        counts (torch.Tensor): ``(K,)`` int64 sizes.
        previous (torch.Tensor): ``(K, D)`` float32 current centroids.
        spherical (bool): L2-normalise the result.
        num_train (int): Number of points the counts are over (all ranks).

    Returns:
        tuple: ``(K, D)`` float32 centroids and the number of splits.
    """
    import torch
    import torch.nn.functional as F
    means = sums / counts.clamp_min(1).to(sums.dtype)[:, None]
    centroids = torch.where((counts > 0)[:, None], means,
                            previous.to(sums.dtype)).float()
    sizes = counts.cpu().numpy().astype(np.float32)
    empty = np.nonzero(sizes == 0)[0]
    num_clusters = len(sizes)
    if len(empty) and num_train > num_clusters:
        sign = torch.ones(centroids.shape[1], device=centroids.device)
        sign[1::2] = -1
        rng = FaissSplitRandom()
        denom = float(np.float32(num_train - num_clusters))
        for target in empty:
            source = 0
            # float32 arithmetic as in faiss, so that choices coincide.
            while not rng.next() < np.float32(
                    (float(sizes[source]) - 1.0) / denom):
                source = (source + 1) % num_clusters
            base = centroids[source].clone()
            centroids[target] = base * (1 + SPLIT_EPS * sign)
            centroids[source] = base * (1 - SPLIT_EPS * sign)
            sizes[target] = sizes[source] / np.float32(2)
            sizes[source] -= sizes[target]
    if spherical:
        centroids = F.normalize(centroids, dim=1)
    return centroids, len(empty)


# ----------------------------------------------------------------- backends
def lloyd_faiss(train: np.ndarray, init: np.ndarray, num_iters: int,
                spherical: bool, seed: int, verbose: bool = False,
                gpu=None) -> Tuple[np.ndarray, List[float]]:
    """Lloyd iterations with ``faiss.Clustering`` from given centroids.

    Args:
        train (np.ndarray): ``(n, D)`` float32 training points (not copied).
        init (np.ndarray): ``(K, D)`` initial centroids.
        num_iters (int): Iterations.
        spherical (bool): Normalise centroids after each update.
        seed (int): faiss seed (only used to split empty clusters).
        verbose (bool): Let faiss print every iteration.
        gpu (int | bool, optional): GPUs for the index; None: all faiss sees.

    Returns:
        tuple: ``(K, D)`` float32 centroids and the objective per iteration.
    """
    import faiss
    from .assign import faiss_num_gpus
    num, dim = train.shape
    num_clusters = init.shape[0]
    params = faiss.ClusteringParameters()
    params.niter = int(num_iters)
    params.seed = int(seed) % (2**31)
    params.spherical = bool(spherical)
    params.verbose = bool(verbose)
    # We sample the training set ourselves: faiss must use all it gets.
    params.max_points_per_centroid = num // num_clusters + 1
    params.min_points_per_centroid = 1
    params.check_input_data_for_NaNs = False  # checked before
    clustering = faiss.Clustering(dim, num_clusters, params)
    faiss.copy_array_to_vector(
        np.ascontiguousarray(init, dtype=np.float32).ravel(),
        clustering.centroids)
    # Spherical: inner products, as faiss.Kmeans does (centroids have unit
    # norm, so the largest inner product is the nearest centroid in L2).
    index = faiss.IndexFlatIP(dim) if spherical else faiss.IndexFlatL2(dim)
    num_gpus = faiss_num_gpus() if gpu is None or gpu is True else int(gpu)
    if num_gpus:
        index = faiss.index_cpu_to_all_gpus(index, ngpu=num_gpus)
    clustering.train(train, index)
    centroids = faiss.vector_float_to_array(clustering.centroids).reshape(
        num_clusters, dim)
    stats = clustering.iteration_stats
    objective = [float(stats.at(i).obj) for i in range(stats.size())]
    if spherical:
        # Sum of inner products -> sum of squared distances to unit-norm
        # centroids: ||x - c||^2 = ||x||^2 + 1 - 2 <x, c>.
        sq_norms = sum(
            float(np.einsum('ij,ij->i', train[s:s + 65536],
                            train[s:s + 65536]).sum(dtype=np.float64))
            for s in range(0, num, 65536))
        objective = [sq_norms + num - 2 * value for value in objective]
    return np.ascontiguousarray(centroids, dtype=np.float32), objective


def lloyd_torch(train: np.ndarray, init: np.ndarray, num_iters: int,
                spherical: bool, seed: int,
                dist: Optional[DistContext] = None,
                log: Callable[[str], None] = lambda msg: None,
                device=None, precision: str = 'auto',
                recheck: Optional[int] = None,
                block_elements: Optional[int] = None
                ) -> Tuple[np.ndarray, List[float]]:
    """Lloyd iterations in torch, optionally over ranks (see module doc).

    Args:
        train (np.ndarray): ``(n, D)`` training points of this rank, float32
            or float16 (kept in float16 on the device, half the memory;
            converted to float32 block by block, so the results equal those
            of the float32-converted points).
        init (np.ndarray): ``(K, D)`` initial centroids (same on all ranks).
        num_iters (int): Iterations.
        spherical (bool): Normalise centroids after each update.
        seed (int): Seed of the empty-cluster splits.
        dist (DistContext, optional): All-reduce over ranks when enabled.
        log (callable): Receives one progress line per iteration.
        device, precision, recheck, block_elements: See
            :class:`~cf_mm.clustering.assign.TorchNearest`.

    Returns:
        tuple: ``(K, D)`` float32 centroids and the global objective per
        iteration (identical on all ranks).
    """
    import torch
    import torch.nn.functional as F
    dist = dist or DistContext(False)
    device = resolve_device(device)
    if not train.flags.writeable:  # a read-only memmap: torch wants a copy
        train = np.array(train)
    x = torch.from_numpy(train).to(device)
    centroids = torch.from_numpy(np.ascontiguousarray(init)).to(device)
    if spherical:
        centroids = F.normalize(centroids, dim=1)
    num_clusters, dim = centroids.shape
    step = max(1, (block_elements or (1 << 27 if device.type == 'cuda'
                                      else 1 << 24)) // dim)
    objective: List[float] = []
    for it in range(num_iters):
        tic = time.perf_counter()
        nearest = TorchNearest(centroids, device=device, precision=precision,
                               recheck=recheck, block_elements=block_elements)
        sums = torch.zeros(num_clusters, dim, dtype=torch.float64,
                           device=device)
        counts = torch.zeros(num_clusters, dtype=torch.int64, device=device)
        obj = torch.zeros(1, dtype=torch.float64, device=device)
        for start in range(0, x.shape[0], step):
            block = x[start:start + step].float()
            labels, dists = nearest.search_tensor(block)
            # float64 sums: the result hardly depends on the summation order,
            # so 1 and W ranks (and CUDA atomics) agree.
            sums.index_add_(0, labels, block.double())
            counts += torch.bincount(labels, minlength=num_clusters)
            obj += dists.double().sum()
        dist.all_reduce(sums)
        dist.all_reduce(counts)
        dist.all_reduce(obj)
        objective.append(float(obj.item()))
        if len(objective) > 1 and objective[-1] == objective[-2]:
            # Same objective (as faiss checks): the assignment, hence the
            # centroids, no longer change.
            log(f'k-means converged at iteration {it + 1}')
            break
        centroids, nsplit = update_centroids(
            sums, counts, centroids, spherical, int(counts.sum().item()))
        log(f'k-means iteration {it + 1}/{num_iters}: objective='
            f'{objective[-1]:.6g} ({time.perf_counter() - tic:.2f} s'
            f'{f", {nsplit} empty clusters split" if nsplit else ""})')
    return centroids.cpu().numpy().astype(np.float32), objective


def streaming_lloyd(source, centroids: np.ndarray, num_iters: int,
                    spherical: bool, seed: int, chunk_size: int,
                    backend: str, dist: DistContext,
                    log: Callable[[str], None], **kernel_kwargs
                    ) -> Tuple[np.ndarray, List[float]]:
    """Lloyd iterations over every point, streamed in chunks.

    Memory holds one chunk and the ``(K, D)`` sums, whatever N is.
    """
    import torch
    current = torch.from_numpy(centroids)
    num_clusters, dim = centroids.shape
    objective: List[float] = []
    for it in range(num_iters):
        tic = time.perf_counter()
        nearest = make_nearest(current.numpy(), backend, **kernel_kwargs)
        sums = torch.zeros(num_clusters, dim, dtype=torch.float64)
        counts = torch.zeros(num_clusters, dtype=torch.int64)
        obj = torch.zeros(1, dtype=torch.float64)
        for _, chunk in iter_checked_chunks(source, chunk_size):
            labels, dists = nearest(chunk)
            labels = torch.from_numpy(labels)
            sums.index_add_(0, labels, torch.from_numpy(chunk).double())
            counts += torch.bincount(labels, minlength=num_clusters)
            obj += float(dists.sum(dtype=np.float64))
        dist.all_reduce(sums)
        dist.all_reduce(counts)
        dist.all_reduce(obj)
        objective.append(float(obj.item()))
        current, nsplit = update_centroids(
            sums, counts, current, spherical, int(counts.sum().item()))
        log(f'k-means full pass {it + 1}/{num_iters}: objective='
            f'{objective[-1]:.6g} ({time.perf_counter() - tic:.2f} s'
            f'{f", {nsplit} empty clusters split" if nsplit else ""})')
    return current.numpy().astype(np.float32), objective


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
        verbose (bool): Log the objective of every iteration.
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
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}: use one of '
                         f'{BACKENDS}')
    if distributed:
        if backend == 'faiss':
            raise ValueError("distributed k-means runs on the 'torch' "
                             "backend (faiss clusters in one process)")
        backend = 'torch'
    elif backend == 'auto':
        backend = 'faiss'
    if int(num_iters) < 1:
        raise ValueError(f'num_iters must be at least 1, got {num_iters}')
    if int(num_full_iters) < 0 or int(chunk_size) < 1:
        raise ValueError('num_full_iters must be >= 0 and chunk_size >= 1')
    dist = DistContext(distributed)
    source = as_feature_source(features)
    sizes = dist.all_gather_int(source.num_samples)
    num_total = sum(sizes)
    num_clusters = _check_num_clusters(num_clusters, num_total,
                                       'points to cluster')
    if max_train_points is not None and int(max_train_points) < num_clusters:
        raise ValueError(f'max_train_points={max_train_points} is smaller '
                         f'than num_clusters={num_clusters}')
    if isinstance(init, np.ndarray):
        init_centroids, init = init, 'array'
    elif init_centroids is not None:
        init = 'array'
    elif init not in INITS:
        raise ValueError(f'unknown init {init!r}: use one of {INITS} or an '
                         'array of centroids')
    if init == 'k-means++' and distributed:
        raise ValueError("init='k-means++' is single-process only; pass "
                         "init_centroids or use init='random'")

    # Training sample: this rank's share of a global uniform sample.
    source.check_finite()
    num_train = num_total
    # torch converts per block; faiss wants the whole sample in float32.
    keep_float16 = backend == 'torch'
    if max_train_points is not None and max_train_points < num_total:
        num_train = int(max_train_points)
        local = split_sample_sizes(sizes, num_train, seed)[dist.rank]
        sample_seed = [seed, dist.rank] if distributed else seed
        train = source.sample(int(local), sample_seed, keep_float16)
    else:
        train = source.read_all(keep_float16)
    check_finite(train, source.name)
    timings: Dict[str, float] = dict(sample=time.perf_counter() - tic)
    log(f'k-means: K={num_clusters}, training on {num_train} of {num_total} '
        f'points (D={source.dim}), {num_iters} iterations, backend '
        f'{backend}, seed {seed}')

    if init == 'array':
        start = check_centroids(init_centroids, source.dim)
        if start.shape[0] != num_clusters:
            raise ValueError(f'init_centroids has {start.shape[0]} rows, '
                             f'expected num_clusters={num_clusters}')
    elif init == 'k-means++':
        start = kmeans_plusplus_init(
            np.asarray(train, dtype=np.float32), num_clusters, seed)
    else:
        start = random_init(train, num_clusters, seed, dist)

    kernel_kwargs = dict(gpu=gpu, device=device, precision=precision,
                         recheck=recheck, block_elements=block_elements)
    tic = time.perf_counter()
    if backend == 'faiss':
        centroids, objective = lloyd_faiss(train, start, num_iters, spherical,
                                           seed, verbose=verbose, gpu=gpu)
        for it, value in enumerate(objective):
            log(f'k-means iteration {it + 1}/{num_iters}: '
                f'objective={value:.6g}')
    else:
        centroids, objective = lloyd_torch(
            train, start, num_iters, spherical, seed, dist=dist, log=log,
            device=device, precision=precision, recheck=recheck,
            block_elements=block_elements)
    timings['train'] = time.perf_counter() - tic
    del train

    full_objective: List[float] = []
    if num_full_iters:
        tic = time.perf_counter()
        centroids, full_objective = streaming_lloyd(
            source, centroids, int(num_full_iters), spherical, seed,
            int(chunk_size), backend, dist, log, **kernel_kwargs)
        timings['full_iters'] = time.perf_counter() - tic

    tic = time.perf_counter()
    labels, dists = assign(source, centroids, chunk_size=int(chunk_size),
                           backend=backend, progress=log, **kernel_kwargs)
    timings['assign'] = time.perf_counter() - tic
    import torch
    counts = dist.all_reduce(
        torch.from_numpy(np.bincount(labels, minlength=num_clusters)))
    final = dist.all_reduce(
        torch.tensor([dists.sum(dtype=np.float64)], dtype=torch.float64))
    stats = size_stats_from_counts(counts.numpy())
    timings['total'] = sum(timings.values())
    log(f'k-means: final objective {float(final.item()):.6g} over '
        f'{num_total} points; cluster sizes min={stats["min"]} '
        f'max={stats["max"]} empty={stats["empty"]}')
    return KMeansResult(
        centroids=centroids,
        labels=labels,
        objective=[float(v) for v in objective],
        final_objective=float(final.item()),
        stats=stats,
        num_train_points=num_train,
        backend=backend,
        timings=timings,
        full_objective=full_objective)
