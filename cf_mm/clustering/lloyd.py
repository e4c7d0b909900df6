"""Lloyd iterations of k-means: faiss, torch and streamed over all points.

Every function starts from given centroids and returns the new centroids and
the objective (sum of squared L2 distances of the points to their nearest
centroid, measured with the centroids the iteration started from) of every
iteration. Empty clusters are refilled by splitting a large cluster exactly as
faiss does, so the backends agree.

This module imports no mm* package.
"""
import time
from typing import Callable, List, Optional, Tuple

import numpy as np

from .assign import TorchNearest, make_nearest, resolve_device
from .distributed import DistContext
from .sources import iter_checked_chunks

# Relative perturbation that separates the two halves of a split cluster
# (faiss uses the same value).
SPLIT_EPS = 1.0 / 1024


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
                spherical: bool, seed: int,
                log: Callable[[str], None] = lambda msg: None,
                gpu=None) -> Tuple[np.ndarray, List[float]]:
    """Lloyd iterations with ``faiss.Clustering`` from given centroids.

    faiss's own printing stays off; its per-iteration statistics (objective
    converted to our scale, time, imbalance, splits) go to ``log`` instead,
    once its training call returns.

    Args:
        train (np.ndarray): ``(n, D)`` float32 training points (not copied).
        init (np.ndarray): ``(K, D)`` initial centroids.
        num_iters (int): Iterations.
        spherical (bool): Normalise centroids after each update.
        seed (int): faiss seed (only used to split empty clusters).
        log (callable): Receives one line per iteration.
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
    params.verbose = False  # its lines bypass the run's log (see above)
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
    stats = [clustering.iteration_stats.at(i)
             for i in range(clustering.iteration_stats.size())]
    objective = [float(stat.obj) for stat in stats]
    if spherical:
        # Sum of inner products -> sum of squared distances to unit-norm
        # centroids: ||x - c||^2 = ||x||^2 + 1 - 2 <x, c>.
        sq_norms = sum(
            float(np.einsum('ij,ij->i', train[s:s + 65536],
                            train[s:s + 65536]).sum(dtype=np.float64))
            for s in range(0, num, 65536))
        objective = [sq_norms + num - 2 * value for value in objective]
    previous_time = 0.0
    for it, (stat, value) in enumerate(zip(stats, objective)):
        # faiss reports the cumulated time (seconds) after each iteration.
        seconds, previous_time = stat.time - previous_time, stat.time
        split = f', {stat.nsplit} empty clusters split' if stat.nsplit else ''
        log(f'k-means iteration {it + 1}/{num_iters}: objective={value:.6g} '
            f'({seconds:.2f} s, imbalance {stat.imbalance_factor:.3f}'
            f'{split}; faiss)')
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
