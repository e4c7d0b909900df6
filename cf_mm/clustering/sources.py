"""One read interface over in-memory arrays, memory maps and feature stores.

k-means and assignment read features in three ways: the whole training set at
once (if it fits), a seeded subsample, and a stream of bounded chunks.
:func:`as_feature_source` wraps an ``(N, D)`` array (``np.memmap`` included)
or a :class:`cf_mm.features.store.FeatureStore` (recognised by its methods, so
this package imports nothing else from cf_mm) and validates it.

Row ``i`` of every output array is sample ``i``: for arrays, the row; for a
store, the sample id minus the first id (the store's ids must form a range).
"""
from typing import Iterator, Tuple

import numpy as np

from ..prefetch import prefetch_in_thread
from .sampling import sample_indices


def check_finite(feats: np.ndarray, where: str, first_row: int = 0) -> None:
    """Raise ``ValueError`` naming the first row with NaN or inf."""
    if not np.isfinite(feats).all():
        bad = int(np.nonzero(~np.isfinite(feats).all(axis=1))[0][0])
        raise ValueError(f'{where}: features contain NaN or inf (row '
                         f'{first_row + bad})')


def working_dtype(stored: np.dtype, keep_float16: bool) -> np.dtype:
    """float32, or float16 when the features are float16 and may stay so."""
    if keep_float16 and np.dtype(stored) == np.float16:
        return np.dtype(np.float16)
    return np.dtype(np.float32)


def is_feature_store(obj) -> bool:
    return all(hasattr(obj, name)
               for name in ('iter_chunks', 'sample', 'num_samples', 'dim'))


class ArraySource:
    """Features held in an ``(N, D)`` array or memory map.

    Args:
        features (np.ndarray): Floating-point ``(N, D)`` array.
        check_block (int): Rows per block for the NaN/inf scan.
    """

    def __init__(self, features: np.ndarray, check_block: int = 1 << 16):
        if not isinstance(features, np.ndarray):
            raise TypeError('features must be a numpy array, an np.memmap or '
                            f'a FeatureStore, got {type(features).__name__}')
        if features.ndim != 2:
            raise ValueError('features must be a 2-D (N, D) array, got shape '
                             f'{features.shape}')
        if not np.issubdtype(features.dtype, np.floating):
            raise ValueError('features must be floating point, got dtype '
                             f'{features.dtype}')
        if features.shape[0] < 1 or features.shape[1] < 1:
            raise ValueError(f'features are empty: shape {features.shape}')
        self.features = features
        self.num_samples, self.dim = features.shape
        self.check_block = check_block
        self.name = f'{type(features).__name__} {features.shape}'

    def check_finite(self) -> None:
        if isinstance(self.features, np.memmap):
            # A full scan would cost one more pass over the disk: rows are
            # checked as they stream through training and assignment.
            return
        for start in range(0, self.num_samples, self.check_block):
            check_finite(self.features[start:start + self.check_block],
                         self.name, start)

    def read_all(self, keep_float16: bool = False) -> np.ndarray:
        """All rows as float32 (or float16, see :func:`working_dtype`),
        without a copy when already in that dtype."""
        return np.ascontiguousarray(
            self.features,
            dtype=working_dtype(self.features.dtype, keep_float16))

    def sample(self, num: int, seed, keep_float16: bool = False
               ) -> np.ndarray:
        idx = sample_indices(self.num_samples, num, seed)
        return np.ascontiguousarray(
            self.features[idx],
            dtype=working_dtype(self.features.dtype, keep_float16))

    def iter_chunks(self, chunk_size: int
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        for start in range(0, self.num_samples, chunk_size):
            stop = min(start + chunk_size, self.num_samples)
            yield (np.arange(start, stop, dtype=np.int64),
                   np.ascontiguousarray(self.features[start:stop],
                                        dtype=np.float32))


class StoreSource:
    """Features in a :class:`~cf_mm.features.store.FeatureStore`.

    Args:
        store (FeatureStore): The store; its ids must be a range
            ``start .. start + N - 1`` so that outputs can be indexed by id.
    """

    def __init__(self, store):
        self.store = store
        self.num_samples = int(store.num_samples)
        self.dim = int(store.dim)
        self.name = f'feature store {getattr(store, "root", store)}'
        id_range = getattr(store, 'id_range', None)
        if id_range is None:
            raise ValueError(
                f'{self.name}: sample ids are not a contiguous range, so '
                'labels cannot be indexed by sample id')
        self.first_id = int(id_range[0])
        if self.num_samples < 1:
            raise ValueError(f'{self.name} is empty')

    def check_finite(self) -> None:
        # Rows are checked as they stream through assignment and training.
        pass

    def read_all(self, keep_float16: bool = False) -> np.ndarray:
        dtype = working_dtype(self.store.dtype, keep_float16)
        if tuple(self.store.id_range) == (0, self.num_samples):
            feats = self.store.load(dtype.name)
        else:
            feats = np.empty((self.num_samples, self.dim), dtype=dtype)
            for pos, chunk in self.iter_chunks(1 << 16):
                feats[pos] = chunk
        check_finite(feats, self.name)
        return feats

    def sample(self, num: int, seed, keep_float16: bool = False
               ) -> np.ndarray:
        dtype = working_dtype(self.store.dtype, keep_float16)
        _, feats = self.store.sample(num, seed, dtype.name)
        check_finite(feats, self.name)
        return feats

    def iter_chunks(self, chunk_size: int
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        for ids, feats in self.store.iter_chunks(chunk_size):
            yield ids - self.first_id, feats


def iter_checked_chunks(source, chunk_size: int
                        ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """Chunks of a source, read and checked for NaN/inf one chunk ahead.

    Reading (disk, float16 -> float32) and the finiteness check of the next
    chunk run in a background thread while the caller searches the current
    one (faiss and torch release the GIL), so a streaming pass costs about
    its compute alone. Memory: at most three chunks at a time.

    Args:
        source: A source from :func:`as_feature_source`.
        chunk_size (int): Rows per chunk.

    Yields:
        tuple: Row positions ``(n,)`` int64 and ``(n, D)`` float32 rows.
    """

    def checked():
        for pos, chunk in source.iter_chunks(chunk_size):
            check_finite(chunk, source.name, int(pos[0]) if len(pos) else 0)
            yield pos, chunk

    return prefetch_in_thread(checked(), depth=1)


def as_feature_source(features):
    """Wrap an array, memmap or FeatureStore (see module doc)."""
    if isinstance(features, (ArraySource, StoreSource)):
        return features
    if is_feature_store(features):
        return StoreSource(features)
    return ArraySource(features)
