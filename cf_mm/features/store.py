"""On-disk feature store: sharded, memory-mappable, streamed in chunks.

Layout of a store rooted at ``root``::

    root/
      rank000/            one closed shard (any name without a dot)
        feats.npy         (n, D) float16 or float32, a regular .npy file
        ids.npy           (n,) int64 global sample ids
        meta.json         n, dim, dtype, id range summary
      rank001/ ...
      rank002.partial/    a shard still being written: invisible to readers
      rank002.lock        held (flock) by the writer of rank002 while it
                          writes: a second writer of that shard stops
      store.json          manifest of a finished extraction: the shards, the
                          total sample count, each shard's file sizes and
                          SHA-256
      store.lock          the store's lock: an extraction holds it exclusive
                          while it clears and writes the store, readers
                          (``tools/cluster.py``) shared while they read

Each writer appends rows to its own ``<shard>.partial`` directory and renames
it to ``<shard>`` when closed, so a reader only ever sees complete shards and
several processes (one per rank) can write into the same root at once without
sharing any index file. Readers discover shards by listing ``root``, or,
when ``store.json`` exists (written by :func:`write_manifest` once every
shard of an extraction is closed and checked), read exactly the shards it
lists and check their total against it: a leftover shard of an earlier run
is then never read, and a missing one is an error. Each writer hashes the
bytes it writes (SHA-256, no extra read); the manifest records them, and
:meth:`FeatureStore.verify` checks them in one read pass, so a shard file
replaced by another extraction's of the same shape is caught.

:func:`store_lock` gives the store's reader/writer lock: a store is never
rewritten while a reader clusters it (the writer stops, naming the reader),
and never read while it is being written.

The ``.npy`` files have a fixed 128-byte header that the writer fills in when
it closes the shard (the row count is unknown until then), so rows are
appended straight to disk and never collected in memory. Any tool reading
``.npy`` files (``np.load(..., mmap_mode='r')``) can open them.

The store reads with plain file reads into bounded buffers
(:meth:`FeatureStore.iter_chunks`, :meth:`FeatureStore.sample`,
:meth:`FeatureStore.load`) rather than through the memory map: pages touched
through a map stay resident in the process, so a pass over a store larger
than RAM would grow its resident memory with N. :meth:`FeatureStore.memmap`
gives the read-only map of a shard for random access by other code.

This module is framework-free (numpy only).
"""
import hashlib
import json
import os
import os.path as osp
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from cf_mm.clustering.sampling import sample_indices
from cf_mm.utils.atomic import atomic_save_json, write_error
from cf_mm.utils.lock import DirLock
from cf_mm.utils.npy import read_npy_header

FEATS_FILE = 'feats.npy'
IDS_FILE = 'ids.npy'
META_FILE = 'meta.json'
PARTIAL_SUFFIX = '.partial'
LOCK_SUFFIX = '.lock'
MANIFEST_FILE = 'store.json'
STORE_LOCK = 'store.lock'
SUPPORTED_DTYPES = ('float16', 'float32')
# Room for the header of any 2-D shape (the dict is < 100 chars).
NPY_HEADER_BYTES = 128


def _npy_header(dtype: np.dtype, shape: Tuple[int, ...]) -> bytes:
    """A version-1.0 ``.npy`` header padded to exactly 128 bytes."""
    header = repr({
        'descr': np.lib.format.dtype_to_descr(np.dtype(dtype)),
        'fortran_order': False,
        'shape': tuple(int(s) for s in shape),
    })
    # magic (6) + version (2) + header length (2) + header + '\n'
    pad = NPY_HEADER_BYTES - 10 - len(header) - 1
    if pad < 0:
        raise ValueError(f'shape {shape} does not fit in the .npy header')
    header = (header + ' ' * pad + '\n').encode('latin1')
    return (np.lib.format.MAGIC_PREFIX + bytes([1, 0]) +
            len(header).to_bytes(2, 'little') + header)


def _check_dtype(dtype) -> np.dtype:
    if np.dtype(dtype).name not in SUPPORTED_DTYPES:
        raise ValueError(f'unsupported feature dtype {dtype!r}: use one of '
                         f'{SUPPORTED_DTYPES}')
    return np.dtype(dtype)


def copy_cast(rows: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = rows`` between float16/float32 (or int64) arrays, fast.

    numpy converts float16 one element at a time (about 10x slower than
    reading the bytes from the page cache); torch's vectorised, threaded
    copy makes the conversion a small part of a streaming pass.
    """
    import torch
    torch.from_numpy(out).copy_(torch.from_numpy(rows))


def _out_dtype(stored: np.dtype, dtype: Optional[str]) -> np.dtype:
    """The dtype of returned rows: ``dtype``, or the stored one if None."""
    return stored if dtype is None else _check_dtype(dtype)


class FeatureStoreWriter:
    """Appends features of one shard to disk; readable once closed.

    Args:
        root (str): Root directory of the store (created if missing).
        shard (str): Shard name, unique among concurrent writers, e.g.
            ``f'rank{rank:03d}'``. Letters, digits, ``-`` and ``_`` only.
        dim (int): Feature dimension D.
        dtype (str): On-disk dtype, ``'float32'`` or ``'float16'``.
            Defaults to ``'float32'``.
        capacity (int, optional): Maximum number of rows; adding more raises
            ``ValueError`` (catches a sampler that yields too much).
        overwrite (bool): Replace a closed shard of the same name when this
            one is closed. Defaults to True, so re-running an extraction
            into the same root replaces its shards.
    """

    def __init__(self,
                 root: str,
                 shard: str,
                 dim: int,
                 dtype: str = 'float32',
                 capacity: Optional[int] = None,
                 overwrite: bool = True):
        if not shard or not all(c.isalnum() or c in '-_' for c in shard):
            raise ValueError(f'invalid shard name {shard!r}: use letters, '
                             'digits, "-" and "_"')
        if int(dim) < 1:
            raise ValueError(f'dim must be positive, got {dim}')
        self.root = root
        self.shard = shard
        self.dim = int(dim)
        self.dtype = _check_dtype(dtype)
        self.capacity = capacity
        self.overwrite = overwrite
        self.final_dir = osp.join(root, shard)
        self.partial_dir = self.final_dir + PARTIAL_SUFFIX
        if not overwrite and osp.exists(self.final_dir):
            raise FileExistsError(f'shard already exists: {self.final_dir}')
        os.makedirs(root, exist_ok=True)
        # One live writer per shard: a second one would delete this one's
        # .partial directory and publish into it.
        self._lock = DirLock(root, f'writer of feature shard {shard}',
                             name=shard + LOCK_SUFFIX).acquire()
        # Left over by a crashed writer of this same shard (its lock died
        # with it).
        shutil.rmtree(self.partial_dir, ignore_errors=True)
        os.makedirs(self.partial_dir)
        self._feats = open(osp.join(self.partial_dir, FEATS_FILE), 'wb')
        self._ids = open(osp.join(self.partial_dir, IDS_FILE), 'wb')
        # SHA-256 of the data (not the header) as it is written.
        self._sha = {FEATS_FILE: hashlib.sha256(), IDS_FILE: hashlib.sha256()}
        self._write(self._feats, b'\0' * NPY_HEADER_BYTES)
        self._write(self._ids, b'\0' * NPY_HEADER_BYTES)
        self.num_rows = 0
        self._min_id: Optional[int] = None
        self._max_id: Optional[int] = None
        self._last_id: Optional[int] = None
        # True while ids are consecutive (id_i = id_0 + i): readers then check
        # uniqueness across shards from the ranges alone.
        self._consecutive = True
        self.closed = False

    def add(self, ids: np.ndarray, feats: np.ndarray) -> None:
        """Append a batch of rows.

        Args:
            ids (np.ndarray): ``(B,)`` global sample ids (integers).
            feats (np.ndarray): ``(B, D)`` features; cast to the store dtype.
        """
        if self.closed:
            raise RuntimeError(f'shard {self.final_dir} is already closed')
        ids = np.asarray(ids)
        feats = np.asarray(feats)
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise ValueError(f'shard {self.shard}: expected features of shape '
                             f'(B, {self.dim}), got {feats.shape}')
        if ids.shape != (feats.shape[0], ):
            raise ValueError(f'shard {self.shard}: ids of shape {ids.shape} '
                             f'do not match {feats.shape[0]} feature rows')
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f'shard {self.shard}: ids must be integers, got '
                             f'{ids.dtype}')
        if not np.issubdtype(feats.dtype, np.floating):
            raise ValueError(f'shard {self.shard}: features must be floating '
                             f'point, got {feats.dtype}')
        num = feats.shape[0]
        if num == 0:
            return
        if self.capacity is not None and self.num_rows + num > self.capacity:
            raise ValueError(
                f'shard {self.shard}: {self.num_rows + num} rows exceed the '
                f'capacity {self.capacity}')
        ids = ids.astype(np.int64, copy=False)
        if ids.min() < 0:
            raise ValueError(f'shard {self.shard}: negative sample id '
                             f'{int(ids.min())}')
        with np.errstate(over='ignore'):  # reported below, with the id
            out = np.ascontiguousarray(feats, dtype=self.dtype)
        if not np.isfinite(out).all():
            row = int(np.nonzero(~np.isfinite(out).all(axis=1))[0][0])
            hint = (' (float16 overflows above 65504: store float32)'
                    if self.dtype == np.float16 and
                    np.isfinite(feats[row]).all() else '')
            raise ValueError(f'shard {self.shard}: non-finite feature for '
                             f'sample id {int(ids[row])}{hint}')
        self._track_ids(ids)
        for handle, name, data in ((self._feats, FEATS_FILE, out.tobytes()),
                                   (self._ids, IDS_FILE, ids.tobytes())):
            self._write(handle, data)
            self._sha[name].update(data)
        self.num_rows += num

    def _write(self, handle, data: bytes) -> None:
        """``handle.write(data)``; a failure (full disk, file-size limit)
        names the file."""
        try:
            handle.write(data)
        except OSError as err:
            raise write_error(err, handle.name) from err

    def _track_ids(self, ids: np.ndarray) -> None:
        lo, hi = int(ids.min()), int(ids.max())
        self._min_id = lo if self._min_id is None else min(self._min_id, lo)
        self._max_id = hi if self._max_id is None else max(self._max_id, hi)
        if self._consecutive:
            first = int(ids[0])
            expected = first if self._last_id is None else self._last_id + 1
            self._consecutive = (first == expected and
                                 (len(ids) == 1 or
                                  bool((np.diff(ids) == 1).all())))
        self._last_id = int(ids[-1])

    def close(self) -> None:
        """Write the headers and metadata, then publish the shard."""
        if self.closed:
            return
        shape = (self.num_rows, self.dim)
        for handle, header in (
            (self._feats, _npy_header(self.dtype, shape)),
            (self._ids, _npy_header(np.int64, (self.num_rows, ))),
        ):
            try:
                handle.seek(0)
                handle.write(header)
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
            except OSError as err:
                _close_quietly(handle)
                raise write_error(err, handle.name) from err
        meta = dict(
            num_samples=self.num_rows,
            dim=self.dim,
            dtype=self.dtype.name,
            min_id=self._min_id,
            max_id=self._max_id,
            consecutive_ids=self._consecutive,
            files={name: dict(
                bytes=osp.getsize(osp.join(self.partial_dir, name)),
                sha256=digest.hexdigest())
                for name, digest in self._sha.items()},
        )
        atomic_save_json(osp.join(self.partial_dir, META_FILE), meta)
        if osp.exists(self.final_dir):
            # Swap rather than delete first: readers see the old or the new
            # shard, never a missing one that later reappears.
            stale = f'{self.final_dir}.stale-{os.getpid()}'
            os.rename(self.final_dir, stale)
            os.rename(self.partial_dir, self.final_dir)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.rename(self.partial_dir, self.final_dir)
        self.closed = True
        self._lock.release()

    def abort(self) -> None:
        """Drop the unfinished shard."""
        if not self.closed:
            _close_quietly(self._feats)
            _close_quietly(self._ids)
            shutil.rmtree(self.partial_dir, ignore_errors=True)
            self.closed = True
            self._lock.release()

    def __enter__(self) -> 'FeatureStoreWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _close_quietly(handle) -> None:
    """Close a file whose buffered data may not fit (a full disk, a size
    limit): the error was reported already, the file is being dropped."""
    try:
        handle.close()
    except OSError:
        try:
            os.close(handle.fileno())
        except (OSError, ValueError):
            pass


def store_lock(root: str, shared: bool, purpose: str) -> DirLock:
    """The reader/writer lock of the store at ``root`` (not yet taken).

    Writers (an extraction clearing and writing the store) take it
    exclusive, readers that must see one consistent store for a long time
    (``tools/cluster.py``) shared. Neither waits: a conflict stops the
    later one with :class:`~cf_mm.utils.lock.LockHeldError` naming the
    holder.

    Args:
        root (str): The store root (created if missing).
        shared (bool): A reader's (shared) lock.
        purpose (str): What the holder does, for messages.
    """
    return DirLock(root, purpose, name=STORE_LOCK, shared=shared)


def read_manifest(root: str) -> Optional[dict]:
    """The manifest of a finished extraction in ``root``, or None."""
    path = osp.join(root, MANIFEST_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            manifest = json.load(f)
        manifest['num_samples'] = int(manifest['num_samples'])
        manifest['shards'] = [str(n) for n in manifest['shards']]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f'corrupt feature store manifest {path}: '
                         f'{err!r}') from err
    return manifest


def write_manifest(root: str, num_samples: int,
                   shards: Optional[Sequence[str]] = None) -> 'FeatureStore':
    """Vouch for the closed shards of ``root`` as one complete store.

    Checks that the shards hold exactly the sample ids ``0 .. num_samples-1``
    (each once), then writes ``store.json`` atomically. Readers then open
    exactly these shards and check the count again.

    Args:
        root (str): Store root.
        num_samples (int): The number of samples the extraction covered.
        shards (Sequence[str], optional): The shards of this extraction
            (default: every closed shard in ``root``).

    Returns:
        FeatureStore: The checked store.
    """
    store = FeatureStore(root, shards=shards)
    check_store_covers(store, num_samples)
    files = {}
    for shard in store._shards:
        with open(osp.join(shard.path, META_FILE)) as f:
            recorded = json.load(f).get('files')
        if recorded:
            files[shard.name] = recorded
    atomic_save_json(osp.join(root, MANIFEST_FILE),
                     dict(num_samples=int(num_samples),
                          shards=list(store.shard_names), dim=store.dim,
                          dtype=store.dtype.name, files=files))
    store.manifest = read_manifest(root)
    return store


def check_store_covers(store: 'FeatureStore', num_samples: int,
                       what: str = 'the dataset') -> None:
    """Raise unless ``store`` holds exactly sample ids ``0 .. num_samples-1``.

    Args:
        store (FeatureStore): The store.
        num_samples (int): Expected number of samples.
        what (str): What ``num_samples`` counts, for the message.
    """
    if store.num_samples != int(num_samples) or \
            store.id_range != (0, int(num_samples)):
        raise ValueError(
            f'feature store {store.root} holds {store.num_samples} rows '
            f'(shards {store.shard_names}, id range {store.id_range}) but '
            f'{what} has {num_samples} samples: stale shards of another '
            'run, or an unfinished extraction. Extract again into an empty '
            'directory')


def clear_store(root: str) -> None:
    """Empty a store directory (shards, manifest, partial shards), keeping
    its :data:`STORE_LOCK` (which the caller may hold).

    Refuses (:class:`~cf_mm.utils.lock.LockHeldError`) while any writer of
    a shard is alive.
    """
    if not osp.isdir(root):
        return
    names = sorted(os.listdir(root))
    locks = [DirLock(root, name=name) for name in names
             if name.endswith(LOCK_SUFFIX) and name != STORE_LOCK]
    try:
        for lock in locks:
            lock.acquire()
        for name in names:
            path = osp.join(root, name)
            if name == STORE_LOCK:
                continue
            if osp.isdir(path) and not osp.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    finally:
        for lock in locks:
            lock.release()


def is_store_dir(path: str) -> bool:
    """Whether ``path`` is (or was being written as) a feature store: it
    has a manifest, a shard, a partial shard or a lock, or is empty."""
    names = os.listdir(path)
    return not names or any(
        name == MANIFEST_FILE or name.endswith((PARTIAL_SUFFIX, LOCK_SUFFIX))
        or osp.isfile(osp.join(path, name, META_FILE)) for name in names)


def clear_out_dir(out_dir: str, keep: Sequence[str] = (),
                  what: str = 'the output folder') -> None:
    """Empty the output folder of an extraction (the roots of its stores
    and its ``meta.json``), which the extraction owns.

    Everything is checked before anything is removed: an entry that is
    neither a store (:func:`is_store_dir`) nor the extraction's
    ``meta.json`` (or a temporary of it) stops with ``ValueError``. Each
    store is removed under its exclusive :func:`store_lock`, so a reader
    (or writer) of it makes this fail, naming the holder.

    Args:
        out_dir (str): The folder (created if missing).
        keep (Sequence[str]): Names to leave (the caller's lock file).
        what (str): The setting naming the folder, for messages.
    """
    os.makedirs(out_dir, exist_ok=True)
    names = [n for n in sorted(os.listdir(out_dir)) if n not in keep]
    stores = []
    for name in names:
        path = osp.join(out_dir, name)
        if name == META_FILE or name.startswith(META_FILE + '.tmp-'):
            continue
        if osp.isdir(path) and not osp.islink(path) and is_store_dir(path):
            stores.append(path)
            continue
        raise ValueError(
            f'{what} {out_dir} holds {name!r}, which is not a feature store '
            'of an extraction; an extraction owns its whole output folder '
            '(it removes the stores an earlier one left there), so choose '
            'an empty folder or one written by tools/extract_features.py')
    for path in stores:
        with store_lock(path, shared=False, purpose='feature extraction'):
            clear_store(path)
        shutil.rmtree(path, ignore_errors=True)
    for name in names:
        if osp.join(out_dir, name) not in stores:
            os.remove(osp.join(out_dir, name))


@dataclass
class _Shard:
    """A closed shard, or a contiguous row range of one (for partitions)."""
    name: str
    path: str
    num_rows: int          # rows of the whole shard file
    dim: int
    dtype: np.dtype
    data_offset: int       # byte offset of row 0 in feats.npy
    ids_offset: int        # byte offset of ids[0] in ids.npy
    min_id: int
    max_id: int
    consecutive: bool
    start: int = 0         # first row of the range
    stop: int = -1         # one past the last row of the range

    @property
    def length(self) -> int:
        return self.stop - self.start


def _data_offset(path: str) -> Tuple[Tuple[int, ...], np.dtype, int]:
    try:
        return read_npy_header(path)
    except ValueError as err:
        raise ValueError(f'corrupt feature shard file {path}: {err}') from err


def _read_rows_at(path: str, data_offset: int, dtype: np.dtype, width: int,
                  rows: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = array[rows[i]]`` for the ``(n, width)`` array in ``path``.

    ``rows`` must be sorted. Nearby rows are read together (through gaps of
    up to 64 KB, at most 16 MB per read) with plain file reads: unlike fancy
    indexing of a memory map, which leaves every touched page (and the
    kernel's read-ahead around it) resident in the process, memory stays
    bounded by one read whatever the file size.
    """
    row_bytes = width * dtype.itemsize
    gap = max(1, (1 << 16) // row_bytes)
    max_span = max(1, (1 << 24) // row_bytes)
    cuts = np.nonzero(np.diff(rows) > gap)[0] + 1
    bounds = np.concatenate([[0], cuts, [len(rows)]]).astype(np.int64)
    with open(path, 'rb') as f:
        for run_start, run_stop in zip(bounds[:-1], bounds[1:]):
            a = int(run_start)
            while a < run_stop:
                first = int(rows[a])
                b = a + int(np.searchsorted(rows[a:run_stop],
                                            first + max_span))
                count = int(rows[b - 1]) - first + 1
                f.seek(data_offset + first * row_bytes)
                block = np.fromfile(f, dtype=dtype, count=count * width)
                if block.size != count * width:
                    raise ValueError(f'short read in {path}')
                copy_cast(block.reshape(count, width)[rows[a:b] - first],
                          out[a:b])
                a = b


class FeatureStore:
    """Reads every closed shard under ``root``.

    When ``root`` has a manifest (``store.json``, see
    :func:`write_manifest`), exactly its shards are read and their total
    must equal its ``num_samples``; other shards in ``root`` are ignored.

    Args:
        root (str): Root directory written by :class:`FeatureStoreWriter`.
        shards (Sequence[str], optional): Restrict to these shard names
            (the manifest is then not consulted).

    Attributes:
        manifest (dict | None): The manifest, if any.
        num_samples (int): Total number of rows over all shards.
        dim (int): Feature dimension D.
        dtype (np.dtype): On-disk dtype (reads return float32).
        id_range (tuple | None): ``(start, stop)`` when the ids are exactly
            ``start .. stop - 1`` (each once), else None.
    """

    def __init__(self, root: str, shards: Optional[Sequence[str]] = None):
        if not osp.isdir(root):
            raise FileNotFoundError(f'feature store not found: {root}')
        self.root = root
        self.manifest = read_manifest(root) if shards is None else None
        if self.manifest is not None:
            shards = self.manifest['shards']
        names = sorted(
            name for name in os.listdir(root)
            if '.' not in name and osp.isfile(osp.join(root, name, META_FILE)))
        if shards is not None:
            missing = sorted(set(shards) - set(names))
            if missing:
                raise FileNotFoundError(
                    f'shards {missing} not found (or not closed) in {root}')
            names = [n for n in names if n in set(shards)]
        if not names:
            partial = [n for n in os.listdir(root)
                       if n.endswith(PARTIAL_SUFFIX)]
            hint = (f' ({len(partial)} unfinished shard(s): was the writer '
                    'closed?)' if partial else '')
            raise FileNotFoundError(
                f'no closed feature shard in {root}{hint}')
        self._shards = [self._open_shard(name) for name in names]
        self._finish_init()
        if self.manifest is not None:
            check_store_covers(
                self, self.manifest['num_samples'],
                f'its manifest {osp.join(root, MANIFEST_FILE)}')
            for file, record in self._recorded_files():
                if osp.getsize(file) != int(record['bytes']):
                    raise ValueError(
                        f'{file} has {osp.getsize(file)} bytes but the '
                        f'manifest {osp.join(root, MANIFEST_FILE)} records '
                        f"{record['bytes']}: replaced after extraction")

    def _recorded_files(self) -> List[Tuple[str, dict]]:
        """``(file, {'bytes', 'sha256'})`` of every shard file the manifest
        records (none for stores written before it recorded them)."""
        files = (self.manifest or {}).get('files') or {}
        return [(osp.join(self.root, shard, name), record)
                for shard, records in sorted(files.items())
                for name, record in sorted(records.items())]

    def verify(self, num_threads: int = 4) -> int:
        """Check every shard file against the SHA-256 in the manifest.

        One read pass over the store (threads hash separate files; hashlib
        releases the GIL). A file replaced after the extraction (another
        extraction's shard of the same shape, an edit) raises.

        Args:
            num_threads (int): Files hashed at once.

        Returns:
            int: Bytes verified (0 when the manifest records no checksums).

        Raises:
            ValueError: A file's data differs from the manifest's record;
                the message names the file.
        """
        recorded = self._recorded_files()

        def check(item) -> int:
            file, record = item
            _, _, offset = _data_offset(file)
            digest = hashlib.sha256()
            with open(file, 'rb') as f:
                f.seek(offset)
                for block in iter(lambda: f.read(1 << 22), b''):
                    digest.update(block)
            if digest.hexdigest() != record['sha256']:
                raise ValueError(
                    f'{file} is not the file the extraction wrote (SHA-256 '
                    f"{digest.hexdigest()[:12]}... instead of "
                    f"{record['sha256'][:12]}... recorded in "
                    f'{osp.join(self.root, MANIFEST_FILE)}): replaced or '
                    'edited after extraction. Extract again')
            return int(record['bytes'])

        with ThreadPoolExecutor(max(1, num_threads)) as pool:
            return sum(pool.map(check, recorded))

    def _open_shard(self, name: str) -> _Shard:
        path = osp.join(self.root, name)
        meta_file = osp.join(path, META_FILE)
        try:
            with open(meta_file) as f:
                meta = json.load(f)
            num, dim, dtype = (int(meta['num_samples']), int(meta['dim']),
                               np.dtype(meta['dtype']))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f'corrupt shard metadata {meta_file}: '
                             f'{err!r}') from err
        feats_file = osp.join(path, FEATS_FILE)
        ids_file = osp.join(path, IDS_FILE)
        for file in (feats_file, ids_file):
            if not osp.isfile(file):
                raise FileNotFoundError(f'missing shard file {file}')
        shape, file_dtype, data_offset = _data_offset(feats_file)
        if shape != (num, dim) or file_dtype != dtype:
            raise ValueError(
                f'{feats_file} holds {shape} {file_dtype}, but {meta_file} '
                f'says ({num}, {dim}) {dtype}')
        expected = data_offset + num * dim * dtype.itemsize
        if osp.getsize(feats_file) != expected:
            raise ValueError(f'{feats_file} has {osp.getsize(feats_file)} '
                             f'bytes, expected {expected} (truncated?)')
        id_shape, id_dtype, ids_offset = _data_offset(ids_file)
        if id_shape != (num, ) or id_dtype != np.int64 or \
                osp.getsize(ids_file) != ids_offset + 8 * num:
            raise ValueError(f'{ids_file} does not hold {num} int64 ids')
        return _Shard(
            name=name, path=path, num_rows=num, dim=dim, dtype=dtype,
            data_offset=data_offset, ids_offset=ids_offset,
            min_id=-1 if meta.get('min_id') is None else int(meta['min_id']),
            max_id=-1 if meta.get('max_id') is None else int(meta['max_id']),
            consecutive=bool(meta.get('consecutive_ids', False)),
            start=0, stop=num)

    def _finish_init(self) -> None:
        first = self._shards[0]
        for shard in self._shards[1:]:
            for key in ('dim', 'dtype'):
                if getattr(shard, key) != getattr(first, key):
                    raise ValueError(
                        f'inconsistent {key} in {self.root}: shard '
                        f'{first.name} has {getattr(first, key)}, shard '
                        f'{shard.name} has {getattr(shard, key)}')
        self.dim = first.dim
        self.dtype = first.dtype
        self._shards = [s for s in self._shards if s.length > 0] or \
            self._shards[:1]
        # Shards in id order, so that streaming visits samples in id order
        # whenever each shard holds a consecutive id range (the extractor's).
        self._shards.sort(key=lambda s: (s.min_id, s.name))
        self.num_samples = sum(s.length for s in self._shards)
        self.id_range = self._check_ids()

    def _check_ids(self) -> Optional[Tuple[int, int]]:
        """Validate unique ids; return their range when it is exact."""
        shards = [s for s in self._shards if s.length > 0]
        if not shards:
            return (0, 0)
        whole = all(s.start == 0 and s.stop == s.num_rows for s in shards)
        if whole and all(s.consecutive for s in shards):
            # Cheap path: each shard is a consecutive id run.
            for prev, cur in zip(shards, shards[1:]):
                if cur.min_id <= prev.max_id:
                    raise ValueError(
                        f'duplicate sample ids in {self.root}: shards '
                        f'{prev.name} [{prev.min_id}, {prev.max_id}] and '
                        f'{cur.name} [{cur.min_id}, {cur.max_id}] overlap')
            lo, hi = shards[0].min_id, shards[-1].max_id
            return (lo, hi + 1) if hi - lo + 1 == self.num_samples else None
        ids = np.concatenate([self._read_ids(s, s.start, s.stop)
                              for s in shards])
        order = np.argsort(ids, kind='stable')
        sorted_ids = ids[order]
        dup = np.nonzero(sorted_ids[1:] == sorted_ids[:-1])[0]
        if len(dup):
            bad = int(sorted_ids[dup[0]])
            owners = [s.name for s in shards
                      if (self._read_ids(s, s.start, s.stop) == bad).any()]
            raise ValueError(f'duplicate sample id {bad} in {self.root} '
                             f'(shards {owners})')
        lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
        return (lo, hi + 1) if hi - lo + 1 == self.num_samples else None

    # ------------------------------------------------------------------ reads
    def _read_ids(self, shard: _Shard, start: int, stop: int) -> np.ndarray:
        with open(osp.join(shard.path, IDS_FILE), 'rb') as f:
            f.seek(shard.ids_offset + 8 * start)
            return np.fromfile(f, dtype=np.int64, count=stop - start)

    def _read_rows(self, shard: _Shard, start: int, stop: int,
                   out: Optional[np.ndarray] = None) -> np.ndarray:
        count = (stop - start) * self.dim
        with open(osp.join(shard.path, FEATS_FILE), 'rb') as f:
            f.seek(shard.data_offset + start * self.dim * self.dtype.itemsize)
            if out is not None and out.dtype == self.dtype:
                # Straight into the caller's buffer: no temporary copy.
                view = out.reshape(-1).view(np.uint8)
                if f.readinto(memoryview(view)) != view.nbytes:
                    raise ValueError(f'short read in {shard.path}')
                return out
            rows = np.fromfile(f, dtype=self.dtype, count=count)
        if rows.size != count:
            raise ValueError(f'short read in {shard.path}')
        rows = rows.reshape(-1, self.dim)
        if out is None:
            if rows.dtype == np.float32:
                return rows
            out = np.empty(rows.shape, dtype=np.float32)
        copy_cast(rows, out)
        return out

    def memmap(self, shard_name: str) -> np.ndarray:
        """The read-only memory map of one shard's features (on-disk dtype)."""
        for shard in self._shards:
            if shard.name == shard_name:
                return np.load(osp.join(shard.path, FEATS_FILE),
                               mmap_mode='r')[shard.start:shard.stop]
        raise KeyError(f'no shard {shard_name!r} in {self.root}')

    @property
    def shard_names(self) -> List[str]:
        return [s.name for s in self._shards]

    def iter_chunks(self, chunk_size: int
                    ) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Stream ``(ids, feats)`` over every row, ``chunk_size`` at most.

        Chunks do not straddle shards, so some are shorter. Features are
        float32 copies; memory is bounded by one chunk.

        Args:
            chunk_size (int): Maximum rows per chunk.

        Yields:
            tuple: ``(ids (B,) int64, feats (B, D) float32)``.
        """
        if int(chunk_size) < 1:
            raise ValueError(f'chunk_size must be positive, got {chunk_size}')
        for shard in self._shards:
            for start in range(shard.start, shard.stop, chunk_size):
                stop = min(start + chunk_size, shard.stop)
                yield (self._read_ids(shard, start, stop),
                       self._read_rows(shard, start, stop))

    def load(self, dtype: Optional[str] = 'float32') -> np.ndarray:
        """All features as one ``(N, D)`` array, row i = sample id i.

        Requires the ids to be exactly ``0 .. N-1``.

        Args:
            dtype (str, optional): ``'float32'`` (default), ``'float16'``, or
                None for the on-disk dtype.
        """
        if self.id_range != (0, self.num_samples):
            raise ValueError(
                f'cannot load {self.root} as an array indexed by sample id: '
                f'its {self.num_samples} ids are not exactly 0..'
                f'{self.num_samples - 1} (id range {self.id_range})')
        out = np.empty((self.num_samples, self.dim),
                       dtype=_out_dtype(self.dtype, dtype))
        chunk = 1 << 16
        for shard in self._shards:
            for start in range(shard.start, shard.stop, chunk):
                stop = min(start + chunk, shard.stop)
                ids = self._read_ids(shard, start, stop)
                if shard.consecutive or (
                        len(ids) and ids[-1] - ids[0] + 1 == len(ids) and
                        (np.diff(ids) == 1).all()):
                    self._read_rows(shard, start, stop,
                                    out=out[ids[0]:ids[0] + len(ids)])
                else:
                    rows = np.empty((stop - start, self.dim), out.dtype)
                    out[ids] = self._read_rows(shard, start, stop, out=rows)
        return out

    def sample(self, num: int, seed: int, dtype: Optional[str] = 'float32'
               ) -> Tuple[np.ndarray, np.ndarray]:
        """A seeded uniform subsample of rows.

        Rows are picked by position in the store's shard order, so a store
        whose shards hold consecutive ids samples the same rows as
        ``features[sample_indices(N, num, seed)]`` on the loaded array.

        Args:
            num (int): Number of rows (at most ``num_samples``).
            seed (int): Random seed.
            dtype (str, optional): ``'float32'`` (default), ``'float16'``,
                or None for the on-disk dtype.

        Returns:
            tuple: ``(ids (num,) int64, feats (num, D))``.
        """
        if not 0 <= int(num) <= self.num_samples:
            raise ValueError(f'cannot sample {num} of the {self.num_samples} '
                             f'samples in {self.root}')
        positions = sample_indices(self.num_samples, int(num), seed)
        return self.take(positions, dtype)

    def take(self, positions: np.ndarray, dtype: Optional[str] = 'float32'
             ) -> Tuple[np.ndarray, np.ndarray]:
        """Rows at positions (in shard order) as ``(ids, feats)``.

        Positions may come in any order and repeat; row ``i`` of the result
        is position ``positions[i]``. Sorted positions are read in one
        forward sweep over the files.

        Args:
            positions (np.ndarray): ``(n,)`` positions in ``[0, N)``.
            dtype (str, optional): ``'float32'`` (default), ``'float16'``,
                or None for the on-disk dtype.
        """
        positions = np.asarray(positions, dtype=np.int64)
        if positions.ndim != 1:
            raise ValueError(f'positions must be 1-D, got shape '
                             f'{positions.shape}')
        if len(positions) and (positions.min() < 0 or
                               positions.max() >= self.num_samples):
            raise IndexError(f'positions out of range [0, {self.num_samples})')
        if np.any(np.diff(positions) < 0):
            order = np.argsort(positions, kind='stable')
            ids, feats = self.take(positions[order], dtype)
            inverse = np.argsort(order)
            return ids[inverse], feats[inverse]
        ids = np.empty(len(positions), dtype=np.int64)
        feats = np.empty((len(positions), self.dim),
                         dtype=_out_dtype(self.dtype, dtype))
        offset = 0
        for shard in self._shards:
            lo, hi = np.searchsorted(positions,
                                     [offset, offset + shard.length])
            if hi > lo:
                rows = positions[lo:hi] - offset + shard.start
                _read_rows_at(osp.join(shard.path, FEATS_FILE),
                              shard.data_offset, self.dtype, self.dim, rows,
                              feats[lo:hi])
                _read_rows_at(osp.join(shard.path, IDS_FILE),
                              shard.ids_offset, np.dtype(np.int64), 1, rows,
                              ids[lo:hi, None])
            offset += shard.length
        return ids, feats

    def partition(self, rank: int, world_size: int) -> 'FeatureStore':
        """The contiguous slice of rows that rank ``rank`` of ``world_size``
        handles in distributed k-means (rows ``[r*N//W, (r+1)*N//W)`` in
        shard order), as a store of its own. No data is read."""
        if not 0 <= rank < world_size:
            raise ValueError(f'rank {rank} outside world size {world_size}')
        lo = rank * self.num_samples // world_size
        hi = (rank + 1) * self.num_samples // world_size
        view = object.__new__(FeatureStore)
        view.root, view.dim, view.dtype = self.root, self.dim, self.dtype
        view.manifest = self.manifest
        view._shards = []
        offset = 0
        for shard in self._shards:
            s_lo, s_hi = max(lo, offset), min(hi, offset + shard.length)
            if s_hi > s_lo:
                view._shards.append(
                    replace(shard, start=shard.start + s_lo - offset,
                            stop=shard.start + s_hi - offset))
            offset += shard.length
        if not view._shards:  # more ranks than rows: an empty view
            first = self._shards[0]
            view._shards = [replace(first, stop=first.start)]
        view.num_samples = hi - lo
        view.id_range = (None if self.id_range is None else
                         (self.id_range[0] + lo, self.id_range[0] + hi)
                         if self._ids_in_shard_order() else None)
        return view

    def _ids_in_shard_order(self) -> bool:
        return all(s.consecutive for s in self._shards) and \
            self.id_range is not None

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f'FeatureStore({self.root!r}, num_samples={self.num_samples}, '
                f'dim={self.dim}, dtype={self.dtype.name}, '
                f'shards={len(self._shards)})')
