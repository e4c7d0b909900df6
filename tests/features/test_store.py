"""The sharded on-disk feature store."""
import json
import multiprocessing as mp
import os

import numpy as np
import pytest

from cf_mm.clustering.sampling import sample_indices
from cf_mm.features.store import FeatureStore, FeatureStoreWriter

DIM = 6


def _features(num, seed=0):
    return np.random.default_rng(seed).normal(size=(num, DIM)).astype(
        np.float32)


def _write(root, shard, ids, feats, dtype='float32', batch=64):
    with FeatureStoreWriter(str(root), shard, feats.shape[1],
                            dtype=dtype) as writer:
        for start in range(0, len(ids), batch):
            writer.add(ids[start:start + batch], feats[start:start + batch])


@pytest.mark.parametrize('dtype,atol', [('float32', 0), ('float16', 2e-3)])
def test_round_trip_over_uneven_shards(tmp_path, dtype, atol):
    feats = _features(1001)
    # Shard names sort differently from the id ranges on purpose.
    _write(tmp_path, 'rank001', np.arange(0, 400), feats[:400], dtype)
    _write(tmp_path, 'rank000', np.arange(400, 1001), feats[400:], dtype)
    store = FeatureStore(str(tmp_path))
    assert (store.num_samples, store.dim) == (1001, DIM)
    assert store.dtype == np.dtype(dtype)
    assert store.id_range == (0, 1001)
    loaded = store.load()
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, feats, atol=atol, rtol=atol)
    # Shards are plain .npy files: any tool can memory-map them.
    mapped = np.load(tmp_path / 'rank000' / 'feats.npy', mmap_mode='r')
    assert isinstance(mapped, np.memmap) and mapped.shape == (601, DIM)
    np.testing.assert_array_equal(
        np.load(tmp_path / 'rank000' / 'ids.npy'), np.arange(400, 1001))


@pytest.mark.parametrize('chunk_size', [1, 100, 333, 5000])
def test_iter_chunks_visits_every_sample_once(tmp_path, chunk_size):
    feats = _features(1001)
    _write(tmp_path, 'a', np.arange(0, 700), feats[:700])
    _write(tmp_path, 'b', np.arange(700, 1001), feats[700:])
    store = FeatureStore(str(tmp_path))
    seen = []
    for ids, chunk in store.iter_chunks(chunk_size):
        assert len(chunk) <= chunk_size and chunk.dtype == np.float32
        np.testing.assert_array_equal(chunk, feats[ids])
        seen.append(ids)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)),
                                  np.arange(1001))


def test_unordered_ids_load_by_id(tmp_path):
    feats = _features(300)
    perm = np.random.default_rng(1).permutation(300)
    _write(tmp_path, 'x', perm[:150], feats[perm[:150]])
    _write(tmp_path, 'y', perm[150:], feats[perm[150:]])
    store = FeatureStore(str(tmp_path))
    assert store.id_range == (0, 300)
    np.testing.assert_array_equal(store.load(), feats)


def test_sample_is_seeded_and_matches_array_sampling(tmp_path):
    feats = _features(1001)
    _write(tmp_path, 'rank000', np.arange(0, 500), feats[:500])
    _write(tmp_path, 'rank001', np.arange(500, 1001), feats[500:])
    store = FeatureStore(str(tmp_path))
    ids, rows = store.sample(123, seed=5)
    np.testing.assert_array_equal(ids, sample_indices(1001, 123, 5))
    np.testing.assert_array_equal(rows, feats[ids])
    again, _ = store.sample(123, seed=5)
    np.testing.assert_array_equal(ids, again)
    other, _ = store.sample(123, seed=6)
    assert not np.array_equal(ids, other)
    with pytest.raises(ValueError, match='cannot sample 2000'):
        store.sample(2000, 0)


def test_take_in_any_order_with_repeats(tmp_path):
    feats = _features(900)
    _write(tmp_path, 'rank000', np.arange(0, 500), feats[:500])
    _write(tmp_path, 'rank001', np.arange(500, 900), feats[500:])
    store = FeatureStore(str(tmp_path))
    positions = np.array([899, 3, 3, 500, 0, 499, 720, 12])
    ids, rows = store.take(positions)
    np.testing.assert_array_equal(ids, positions)
    np.testing.assert_array_equal(rows, feats[positions])
    with pytest.raises(IndexError, match='out of range'):
        store.take(np.array([1, 900]))


def test_partitions_cover_the_store(tmp_path):
    feats = _features(1001)
    _write(tmp_path, 'rank000', np.arange(0, 300), feats[:300])
    _write(tmp_path, 'rank001', np.arange(300, 1001), feats[300:])
    store = FeatureStore(str(tmp_path))
    parts = [store.partition(r, 3) for r in range(3)]
    assert sum(p.num_samples for p in parts) == 1001
    got = np.concatenate([c for p in parts for _, c in p.iter_chunks(128)])
    np.testing.assert_array_equal(got, feats)
    assert parts[1].id_range == (333, 667)
    ids, rows = parts[2].sample(10, 0)
    np.testing.assert_array_equal(rows, feats[ids])
    assert ids.min() >= 667


def test_unclosed_shard_is_invisible(tmp_path):
    feats = _features(10)
    _write(tmp_path, 'rank000', np.arange(5), feats[:5])
    writer = FeatureStoreWriter(str(tmp_path), 'rank001', DIM)
    writer.add(np.arange(5, 10), feats[5:])
    assert FeatureStore(str(tmp_path)).num_samples == 5
    writer.close()
    assert FeatureStore(str(tmp_path)).num_samples == 10


def test_rewriting_a_shard_replaces_it(tmp_path):
    _write(tmp_path, 'rank000', np.arange(5), _features(5, seed=1))
    _write(tmp_path, 'rank000', np.arange(5), _features(5, seed=2))
    np.testing.assert_array_equal(FeatureStore(str(tmp_path)).load(),
                                  _features(5, seed=2))
    assert sorted(os.listdir(tmp_path)) == ['rank000']


def _write_rank(root, rank, world, num):
    lo, hi = rank * num // world, (rank + 1) * num // world
    _write(root, f'rank{rank:03d}', np.arange(lo, hi), _features(num)[lo:hi])


def test_concurrent_writers_per_rank(tmp_path):
    ctx = mp.get_context('fork')  # the writer needs nothing re-imported
    procs = [ctx.Process(target=_write_rank, args=(str(tmp_path), r, 3, 1000))
             for r in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    np.testing.assert_array_equal(FeatureStore(str(tmp_path)).load(),
                                  _features(1000))


def test_writer_rejects_bad_batches(tmp_path):
    writer = FeatureStoreWriter(str(tmp_path), 'rank000', DIM, capacity=10)
    with pytest.raises(ValueError, match=r'shape \(B, 6\)'):
        writer.add(np.arange(2), np.zeros((2, 5)))
    with pytest.raises(ValueError, match='do not match 3'):
        writer.add(np.arange(2), np.zeros((3, DIM)))
    bad = np.zeros((2, DIM))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match='sample id 8'):
        writer.add(np.array([7, 8]), bad)
    writer.add(np.arange(8), np.zeros((8, DIM)))
    with pytest.raises(ValueError, match='capacity 10'):
        writer.add(np.arange(8, 11), np.zeros((3, DIM)))
    writer.abort()
    half = FeatureStoreWriter(str(tmp_path), 'rank001', DIM, dtype='float16')
    with pytest.raises(ValueError, match='float16 overflows'):
        half.add(np.arange(1), np.full((1, DIM), 1e6))
    half.abort()
    with pytest.raises(ValueError, match='unsupported feature dtype'):
        FeatureStoreWriter(str(tmp_path), 'r', DIM, dtype='int8')
    with pytest.raises(ValueError, match='invalid shard name'):
        FeatureStoreWriter(str(tmp_path), '../evil', DIM)


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='not found'):
        FeatureStore(str(tmp_path / 'missing'))
    os.makedirs(tmp_path / 'empty')
    with pytest.raises(FileNotFoundError, match='no closed feature shard'):
        FeatureStore(str(tmp_path / 'empty'))

    _write(tmp_path / 'dup', 'a', np.arange(0, 10), _features(10))
    _write(tmp_path / 'dup', 'b', np.arange(5, 15), _features(10))
    with pytest.raises(ValueError, match='duplicate sample ids.*a.*b'):
        FeatureStore(str(tmp_path / 'dup'))

    _write(tmp_path / 'dim', 'a', np.arange(3), _features(3))
    _write(tmp_path / 'dim', 'b', np.arange(3, 6), np.zeros((3, 4)))
    with pytest.raises(ValueError, match='inconsistent dim'):
        FeatureStore(str(tmp_path / 'dim'))

    _write(tmp_path / 'dtype', 'a', np.arange(3), _features(3))
    _write(tmp_path / 'dtype', 'b', np.arange(3, 6), _features(3), 'float16')
    with pytest.raises(ValueError, match='inconsistent dtype'):
        FeatureStore(str(tmp_path / 'dtype'))

    _write(tmp_path / 'gap', 'a', np.array([0, 1, 5]), _features(3))
    store = FeatureStore(str(tmp_path / 'gap'))
    assert store.id_range is None
    with pytest.raises(ValueError, match='not exactly 0..2'):
        store.load()

    _write(tmp_path / 'cut', 'a', np.arange(10), _features(10))
    feats_file = tmp_path / 'cut' / 'a' / 'feats.npy'
    feats_file.write_bytes(feats_file.read_bytes()[:-8])
    with pytest.raises(ValueError, match='truncated'):
        FeatureStore(str(tmp_path / 'cut'))

    _write(tmp_path / 'meta', 'a', np.arange(10), _features(10))
    meta = tmp_path / 'meta' / 'a' / 'meta.json'
    meta.write_text(json.dumps({'num_samples': 11, 'dim': DIM,
                                'dtype': 'float32'}))
    with pytest.raises(ValueError, match='says'):
        FeatureStore(str(tmp_path / 'meta'))
