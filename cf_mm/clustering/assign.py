"""Nearest-centroid search and the streaming assignment pass.

Two kernels answer "which centroid is nearest, and how far is it" for a block
of points:

* :class:`FaissNearest`: an exact ``IndexFlatL2`` over the centroids, on all
  GPUs faiss sees (``index_cpu_to_all_gpus``) or on the CPU, where faiss runs
  the distance computation as blocked sgemm.
* :class:`TorchNearest`: the same search as torch GEMMs on any device. On GPUs
  the GEMM can run in TF32 or bf16 (tensor cores, fp32 accumulation); the
  ``recheck`` best candidates of that fast pass are then re-scored in exact
  fp32 (``||x - c||^2`` summed elementwise, no reduced-precision matmul), so
  the returned label and distance are those of an fp32 search unless the true
  nearest centroid fell outside the top ``recheck`` fast candidates.

:func:`assign` streams any feature source through a kernel in chunks: memory is
bounded by the chunk (plus a ``block x K`` distance block), not by N.
"""
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional, Tuple

import numpy as np

from .sources import (as_feature_source, check_finite,
                      iter_checked_chunks)

BACKENDS = ('auto', 'faiss', 'torch')
PRECISIONS = ('auto', 'fp32', 'tf32', 'bf16')


def faiss_num_gpus() -> int:
    import faiss
    return faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0


def check_centroids(centroids: np.ndarray, dim: Optional[int] = None
                    ) -> np.ndarray:
    """Validate ``(K, D)`` centroids; return them as contiguous float32."""
    centroids = np.asarray(centroids)
    if centroids.ndim != 2 or centroids.shape[0] < 1:
        raise ValueError(f'centroids must be a (K, D) array, got shape '
                         f'{centroids.shape}')
    if dim is not None and centroids.shape[1] != dim:
        raise ValueError(f'centroids have dimension {centroids.shape[1]} but '
                         f'the features have {dim}')
    if not np.issubdtype(centroids.dtype, np.floating):
        raise ValueError(f'centroids must be floating point, got '
                         f'{centroids.dtype}')
    centroids = np.ascontiguousarray(centroids, dtype=np.float32)
    check_finite(centroids, 'centroids')
    return centroids


class FaissNearest:
    """Exact L2 nearest-centroid search with faiss.

    Args:
        centroids (np.ndarray): ``(K, D)`` float32.
        gpu (int | bool, optional): Number of GPUs to shard the index over;
            True for all; None picks all GPUs faiss sees (0 on faiss-cpu).
    """

    def __init__(self, centroids: np.ndarray, gpu=None):
        import faiss
        centroids = check_centroids(centroids)
        index = faiss.IndexFlatL2(centroids.shape[1])
        num_gpus = faiss_num_gpus()
        if gpu is None or gpu is True:
            gpu = num_gpus
        if gpu:
            if num_gpus == 0:
                raise RuntimeError('a GPU faiss index was requested but this '
                                   'faiss build sees no GPU')
            index = faiss.index_cpu_to_all_gpus(index, ngpu=int(gpu))
        index.add(centroids)
        self.index = index
        self.num_clusters = centroids.shape[0]

    def __call__(self, feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        dists, labels = self.index.search(
            np.ascontiguousarray(feats, dtype=np.float32), 1)
        return labels[:, 0].astype(np.int64), dists[:, 0]


@contextmanager
def fp32_matmul(tf32: bool) -> Iterator[None]:
    """Allow (or forbid) TF32 for fp32 CUDA matmuls inside the block only."""
    import torch
    if not torch.cuda.is_available():
        yield
        return
    matmul = torch.backends.cuda.matmul
    use_new_api = hasattr(matmul, 'fp32_precision')
    old = matmul.fp32_precision if use_new_api else matmul.allow_tf32
    if use_new_api:
        matmul.fp32_precision = 'tf32' if tf32 else 'ieee'
    else:
        matmul.allow_tf32 = tf32
    try:
        yield
    finally:
        if use_new_api:
            matmul.fp32_precision = old
        else:
            matmul.allow_tf32 = old


def resolve_device(device=None):
    import torch
    if device is None:
        return torch.device(
            f'cuda:{torch.cuda.current_device()}'
            if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def resolve_precision(precision: str, device) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f'unknown precision {precision!r}: use one of '
                         f'{PRECISIONS}')
    if precision == 'auto':
        return 'tf32' if device.type == 'cuda' else 'fp32'
    return precision


class TorchNearest:
    """Nearest-centroid search with torch GEMMs (see module doc).

    Args:
        centroids (np.ndarray | torch.Tensor): ``(K, D)`` centroids.
        device (str | torch.device, optional): Defaults to the current CUDA
            device if there is one, else CPU.
        precision (str): ``'fp32'``, ``'tf32'``, ``'bf16'`` or ``'auto'``
            (TF32 on CUDA, fp32 elsewhere).
        recheck (int, optional): Candidates re-scored in exact fp32 after a
            reduced-precision GEMM. Defaults to 1 for fp32 (no re-check), 4
            for TF32 and 8 for bf16.
        block_elements (int, optional): Bound on ``rows x K`` of one distance
            block. Defaults to 2**28 on CUDA and 2**24 on CPU.
    """

    def __init__(self, centroids, device=None, precision: str = 'auto',
                 recheck: Optional[int] = None,
                 block_elements: Optional[int] = None):
        import torch
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if recheck is None:
            recheck = {'fp32': 1, 'tf32': 4, 'bf16': 8}[self.precision]
        if isinstance(centroids, torch.Tensor):
            centroids = centroids.detach().to(self.device, torch.float32)
        else:
            centroids = torch.from_numpy(check_centroids(centroids)).to(
                self.device)
        self.centroids = centroids.contiguous()
        self.num_clusters = centroids.shape[0]
        self.recheck = max(1, min(int(recheck), self.num_clusters))
        self.sq_norms = (self.centroids * self.centroids).sum(1)
        self.low = (self.centroids.bfloat16()
                    if self.precision == 'bf16' else None)
        if block_elements is None:
            block_elements = 1 << 28 if self.device.type == 'cuda' else 1 << 24
        dim = self.centroids.shape[1]
        self.block_rows = max(
            1, block_elements // max(self.num_clusters, self.recheck * dim))

    def search_tensor(self, x):
        """Labels (int64) and squared distances (fp32) of a device tensor."""
        import torch
        labels = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
        dists = torch.empty(x.shape[0], dtype=torch.float32, device=x.device)
        for start in range(0, x.shape[0], self.block_rows):
            block = x[start:start + self.block_rows]
            lab, dis = self._search_block(block)
            labels[start:start + len(block)] = lab
            dists[start:start + len(block)] = dis
        return labels, dists

    def _search_block(self, x):
        import torch
        if self.precision == 'bf16':
            # bf16 inputs, fp32 accumulation; product rounded to bf16.
            scores = torch.mm(x.bfloat16(), self.low.t()).float()
            scores = self.sq_norms[None] - 2 * scores
        else:
            with fp32_matmul(self.precision == 'tf32'):
                # ||c||^2 - 2 x.c: the part of ||x - c||^2 that depends on c.
                scores = torch.addmm(self.sq_norms[None], x,
                                     self.centroids.t(), alpha=-2)
        if self.recheck == 1:
            best, labels = scores.min(dim=1)
            dists = (best + (x * x).sum(1)).clamp_min_(0)
            return labels, dists
        cand = scores.topk(self.recheck, dim=1, largest=False).indices
        # Ascending ids: exact ties go to the lowest id, as in faiss.
        cand = cand.sort(dim=1).values
        diff = x[:, None, :] - self.centroids[cand]
        exact = (diff * diff).sum(-1)
        best, pick = exact.min(dim=1)
        return cand.gather(1, pick[:, None])[:, 0], best

    def __call__(self, feats: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        import torch
        feats = np.ascontiguousarray(feats, dtype=np.float32)
        if not feats.flags.writeable:  # memmap rows: torch wants a copy
            feats = feats.copy()
        x = torch.from_numpy(feats)
        labels, dists = self.search_tensor(x.to(self.device))
        return labels.cpu().numpy(), dists.cpu().numpy()


def make_nearest(centroids: np.ndarray, backend: str = 'auto', **kwargs):
    """Build the nearest-centroid kernel of a backend.

    Args:
        centroids (np.ndarray): ``(K, D)`` centroids.
        backend (str): ``'auto'``/``'faiss'`` or ``'torch'``.
        **kwargs: ``gpu`` for faiss; ``device``, ``precision``, ``recheck``,
            ``block_elements`` for torch. Options of the other backend are
            ignored, so callers can pass one set of options.
    """
    if backend not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}: use one of '
                         f'{BACKENDS}')
    if backend == 'torch':
        keys = ('device', 'precision', 'recheck', 'block_elements')
        return TorchNearest(centroids, **{k: kwargs[k] for k in keys
                                          if kwargs.get(k) is not None})
    return FaissNearest(centroids, gpu=kwargs.get('gpu'))


def assign(features,
           centroids: np.ndarray,
           chunk_size: int = 65536,
           backend: str = 'auto',
           progress: Optional[Callable[[str], None]] = None,
           **kwargs) -> Tuple[np.ndarray, np.ndarray]:
    """Assign every point to its nearest centroid, streaming in chunks.

    Args:
        features (np.ndarray | FeatureStore): ``(N, D)`` array (float16/32,
            may be an ``np.memmap``) or a feature store.
        centroids (np.ndarray): ``(K, D)`` centroids.
        chunk_size (int): Rows read and searched at a time; bounds memory.
            Defaults to 65536.
        backend (str): ``'auto'`` (faiss, on GPUs when faiss has them),
            ``'faiss'`` or ``'torch'``. Defaults to ``'auto'``.
        progress (callable, optional): Receives a progress line about every
            10% of the points (e.g. ``print`` or ``logger.info``).
        **kwargs: Kernel options, see :func:`make_nearest`.

    Returns:
        tuple: ``labels`` ``(N,)`` int64 and squared L2 ``distances`` ``(N,)``
        float32; row i is sample i (sample id minus the first id for a store).
    """
    source = as_feature_source(features)
    if int(chunk_size) < 1:
        raise ValueError(f'chunk_size must be positive, got {chunk_size}')
    centroids = check_centroids(centroids, source.dim)
    nearest = make_nearest(centroids, backend, **kwargs)
    labels = np.full(source.num_samples, -1, dtype=np.int64)
    dists = np.empty(source.num_samples, dtype=np.float32)
    done, next_report, tic = 0, source.num_samples / 10, time.perf_counter()
    for pos, chunk in iter_checked_chunks(source, int(chunk_size)):
        lab, dis = nearest(chunk)
        labels[pos] = lab
        dists[pos] = dis
        done += len(pos)
        if progress is not None and done >= next_report:
            progress(f'assigned {done}/{source.num_samples} points '
                     f'({time.perf_counter() - tic:.1f} s)')
            next_report += source.num_samples / 10
    if (labels < 0).any():
        raise ValueError(f'{source.name}: {int((labels < 0).sum())} samples '
                         'were never visited (ids with gaps?)')
    return labels, dists
