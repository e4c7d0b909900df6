"""Nearest-centroid assignment: streaming = in-memory, backends, precision."""
import numpy as np
import pytest

from cf_mm.clustering import assign
from cf_mm.clustering.assign import FaissNearest, TorchNearest
from cf_mm.features.store import FeatureStore, FeatureStoreWriter

from .gmm import make_gmm


@pytest.fixture(scope='module')
def data():
    feats, _ = make_gmm(2501, 40, 24, seed=1, spread=0.3)
    centroids = np.random.default_rng(2).normal(size=(37, 24))
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    return feats, centroids.astype(np.float32)


def _write_store(root, feats, bounds, dtype='float32'):
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        with FeatureStoreWriter(str(root), f'rank{i:03d}', feats.shape[1],
                                dtype=dtype) as writer:
            for start in range(lo, hi, 300):
                stop = min(start + 300, hi)
                writer.add(np.arange(start, stop), feats[start:stop])
    return FeatureStore(str(root))


@pytest.mark.parametrize('chunk_size', [1, 97, 1000, 100000])
def test_streaming_store_equals_in_memory(data, tmp_path, chunk_size):
    feats, centroids = data
    # Three uneven shards; no chunk size divides N = 2501.
    store = _write_store(tmp_path, feats, [0, 1000, 1001, 2501])
    expected_labels, expected_dists = assign(feats, centroids)
    labels, dists = assign(store, centroids, chunk_size=chunk_size)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(dists, expected_dists, rtol=1e-6, atol=1e-6)


def test_float16_store_equals_its_float32_values(data, tmp_path):
    feats, centroids = data
    store = _write_store(tmp_path, feats, [0, 1234, 2501], dtype='float16')
    labels, _ = assign(store, centroids, chunk_size=500)
    expected, _ = assign(feats.astype(np.float16).astype(np.float32),
                         centroids)
    np.testing.assert_array_equal(labels, expected)


def test_memmap_equals_in_memory(data, tmp_path):
    feats, centroids = data
    np.save(tmp_path / 'f.npy', feats)
    mapped = np.load(tmp_path / 'f.npy', mmap_mode='r')
    for got, want in zip(assign(mapped, centroids, chunk_size=333),
                         assign(feats, centroids)):
        np.testing.assert_array_equal(got, want)


def test_distances_are_squared_l2(data):
    feats, centroids = data
    labels, dists = assign(feats, centroids)
    brute = ((feats[:, None, :] - centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, brute.argmin(1))
    np.testing.assert_allclose(dists, brute.min(1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('precision,recheck', [('fp32', None),
                                               ('bf16', None)])
def test_torch_matches_faiss(data, precision, recheck):
    feats, centroids = data
    ref_labels, ref_dists = FaissNearest(centroids)(feats)
    nearest = TorchNearest(centroids, device='cpu', precision=precision,
                           recheck=recheck, block_elements=100000)
    labels, dists = nearest(feats)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(dists, ref_dists, rtol=1e-4, atol=1e-5)


def test_bf16_needs_the_exact_recheck():
    # Nearly tied centroids: a bf16 GEMM alone cannot separate them.
    feats, _ = make_gmm(4000, 1, 64, seed=3, spread=1.0)
    rng = np.random.default_rng(0)
    centroids = (feats[:1] + 1e-3 * rng.normal(size=(64, 64))).astype(
        np.float32)
    exact, _ = FaissNearest(centroids)(feats)
    fast, _ = TorchNearest(centroids, device='cpu', precision='bf16',
                           recheck=1)(feats)
    checked, _ = TorchNearest(centroids, device='cpu', precision='bf16',
                              recheck=16)(feats)
    assert (fast != exact).mean() > 0.05
    assert (checked == exact).mean() > 0.99


def test_memory_is_bounded_by_the_chunk(data, tmp_path, monkeypatch):
    feats, centroids = data
    store = _write_store(tmp_path, feats, [0, 2000, 2501])
    seen = []
    original = FaissNearest.__call__

    def spy(self, chunk):
        seen.append(len(chunk))
        return original(self, chunk)

    monkeypatch.setattr(FaissNearest, '__call__', spy)
    assign(store, centroids, chunk_size=256)
    assert max(seen) <= 256
    assert sum(seen) == len(feats)


def test_bad_input(data, tmp_path):
    feats, centroids = data
    with pytest.raises(ValueError, match='dimension 24 but the features'):
        assign(feats[:, :10], centroids)
    with pytest.raises(ValueError, match='chunk_size'):
        assign(feats, centroids, chunk_size=0)
    with pytest.raises(ValueError, match='unknown backend'):
        assign(feats, centroids, backend='annoy')
    bad = feats.copy()
    bad[2345, 1] = np.nan
    np.save(tmp_path / 'bad.npy', bad)
    with pytest.raises(ValueError, match=r'NaN or inf \(row 2345\)'):
        assign(np.load(tmp_path / 'bad.npy', mmap_mode='r'), centroids,
               chunk_size=1000)
    with pytest.raises(ValueError, match='NaN or inf'):
        assign(feats, np.full_like(centroids, np.inf))


def test_progress_lines(data):
    feats, centroids = data
    lines = []
    assign(feats, centroids, chunk_size=100, progress=lines.append)
    assert 9 <= len(lines) <= 11
    assert lines[-1].startswith(f'assigned {len(feats)}/{len(feats)} points')
