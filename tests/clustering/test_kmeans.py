"""k-means: structure recovery, reference agreement, determinism, errors."""
import importlib
import logging

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from cf_mm.clustering import assign, cluster_size_stats, kmeans
from cf_mm.clustering.kmeans import random_init

from .gmm import make_gmm

BACKENDS = ['faiss', 'torch']


@pytest.fixture(scope='module')
def mixture():
    return make_gmm(4000, 12, 32, seed=3)


@pytest.mark.parametrize('backend', BACKENDS)
def test_recovers_gaussian_mixture(mixture, backend):
    feats, truth = mixture
    result = kmeans(feats, 12, num_iters=15, seed=0, backend=backend,
                    init='k-means++')
    assert nmi(truth, result.labels) > 0.99
    assert result.labels.shape == (len(feats), )
    assert result.labels.dtype == np.int64
    assert result.centroids.shape == (12, 32)
    assert result.centroids.dtype == np.float32
    # Spherical k-means keeps unit-norm centroids.
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1,
                               atol=1e-5)
    assert result.stats == cluster_size_stats(result.labels, 12)
    assert result.num_train_points == len(feats)


@pytest.mark.parametrize('backend', BACKENDS)
def test_matches_sklearn_lloyd_from_same_start(backend):
    feats, _ = make_gmm(3000, 8, 16, seed=5, spread=0.3, normalize=False)
    start = feats[np.random.default_rng(1).choice(len(feats), 8,
                                                  replace=False)]
    ours = kmeans(feats, 8, num_iters=25, backend=backend, spherical=False,
                  init_centroids=start)
    ref = KMeans(8, init=start, n_init=1, max_iter=25, tol=0,
                 algorithm='lloyd').fit(feats)
    assert ours.final_objective == pytest.approx(ref.inertia_, rel=1e-4)
    assert (ours.labels == ref.labels_).mean() > 0.999
    np.testing.assert_allclose(ours.centroids, ref.cluster_centers_,
                               atol=1e-4)
    # Lloyd never increases the objective.
    obj = np.array(ours.objective)
    assert (np.diff(obj) <= 1e-6 * obj[0]).all()


def test_backends_agree_on_gaussian_mixture():
    feats, _ = make_gmm(5000, 20, 32, seed=7, spread=0.08)
    results = {b: kmeans(feats, 20, num_iters=20, seed=4, backend=b)
               for b in BACKENDS}
    faiss_res, torch_res = results['faiss'], results['torch']
    assert nmi(faiss_res.labels, torch_res.labels) > 0.99
    assert abs(faiss_res.final_objective - torch_res.final_objective) <= \
        0.005 * faiss_res.final_objective
    # Same seed, same initial centroids: the first objectives coincide.
    assert faiss_res.objective[0] == pytest.approx(torch_res.objective[0],
                                                   rel=1e-5)


@pytest.mark.parametrize('backend', BACKENDS)
def test_same_seed_same_labels(mixture, backend):
    feats, _ = mixture
    runs = [kmeans(feats, 30, num_iters=5, seed=s, backend=backend,
                   max_train_points=2000) for s in (11, 11, 12)]
    np.testing.assert_array_equal(runs[0].labels, runs[1].labels)
    np.testing.assert_array_equal(runs[0].centroids, runs[1].centroids)
    assert not np.array_equal(runs[0].centroids, runs[2].centroids)


def test_random_init_picks_distinct_training_points(mixture):
    feats, _ = mixture
    init = random_init(feats, 50, seed=0)
    rows = {tuple(r) for r in init}
    assert len(rows) == 50
    assert rows <= {tuple(r) for r in feats}


@pytest.mark.parametrize('backend', BACKENDS)
def test_trains_on_sample_and_assigns_everything(mixture, backend, tmp_path):
    feats, truth = mixture
    result = kmeans(feats, 12, num_iters=10, seed=2, backend=backend,
                    max_train_points=600, init='k-means++')
    assert result.num_train_points == 600
    labels, dists = assign(feats, result.centroids)
    np.testing.assert_array_equal(result.labels, labels)
    assert result.final_objective == pytest.approx(
        dists.sum(dtype=np.float64), rel=1e-5)
    assert nmi(truth, result.labels) > 0.99
    # A memory-mapped copy streams through the same path: same result.
    path = tmp_path / 'feats.npy'
    np.save(path, feats)
    mapped = kmeans(np.load(path, mmap_mode='r'), 12, num_iters=10, seed=2,
                    backend=backend, max_train_points=600, init='k-means++',
                    chunk_size=999)
    np.testing.assert_array_equal(mapped.labels, result.labels)


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('sample', [None, 900])
def test_float16_features_cluster_like_their_float32_values(
        mixture, backend, sample, tmp_path, monkeypatch):
    # The package exports a function of the same name: fetch the module.
    kmeans_module = importlib.import_module('cf_mm.clustering.kmeans')
    from cf_mm.features.store import FeatureStore, FeatureStoreWriter
    feats16 = mixture[0].astype(np.float16)
    with FeatureStoreWriter(str(tmp_path), 'rank000', 32,
                            dtype='float16') as writer:
        writer.add(np.arange(len(feats16)), feats16)
    # The torch backend keeps a float16 training sample in float16.
    seen = []
    lloyd_torch = kmeans_module.lloyd_torch

    def recording_lloyd_torch(train, *args, **kwargs):
        seen.append(train.dtype)
        return lloyd_torch(train, *args, **kwargs)

    monkeypatch.setattr(kmeans_module, 'lloyd_torch', recording_lloyd_torch)
    options = dict(num_iters=8, seed=0, backend=backend,
                   max_train_points=sample)
    reference = kmeans(feats16.astype(np.float32), 12, **options)
    for features in (feats16, FeatureStore(str(tmp_path))):
        result = kmeans(features, 12, **options)
        np.testing.assert_array_equal(result.labels, reference.labels)
        np.testing.assert_allclose(result.centroids, reference.centroids,
                                   rtol=0, atol=1e-6)
        assert result.objective == pytest.approx(reference.objective,
                                                 rel=1e-6)
    expected = [np.float32, np.float16, np.float16] if backend == 'torch' \
        else []
    assert seen == expected


@pytest.mark.parametrize('backend', BACKENDS)
def test_full_data_iterations_lower_the_objective(mixture, backend):
    feats, _ = mixture
    common = dict(num_iters=3, seed=1, backend=backend, max_train_points=300,
                  chunk_size=700)
    sample_only = kmeans(feats, 40, **common)
    refined = kmeans(feats, 40, num_full_iters=3, **common)
    assert len(refined.full_objective) == 3
    full = np.array(refined.full_objective)
    assert (np.diff(full) <= 1e-6 * full[0]).all()
    assert refined.final_objective <= full[-1] * (1 + 1e-6)
    assert refined.final_objective < sample_only.final_objective


@pytest.mark.parametrize('backend', BACKENDS)
def test_empty_clusters_are_split(backend):
    feats, _ = make_gmm(600, 3, 8, seed=0)
    # Two identical starting centroids: the second one gets no point.
    start = feats[[0, 0, 1, 2, 3, 4]]
    result = kmeans(feats, 6, num_iters=10, backend=backend,
                    init_centroids=start)
    assert result.stats['empty'] == 0
    assert len(np.unique(result.labels)) == 6


def test_verbose_logs_objective_per_iteration(mixture, caplog):
    logger = logging.getLogger('kmeans-test')
    with caplog.at_level(logging.INFO, logger='kmeans-test'):
        result = kmeans(mixture[0], 12, num_iters=4, backend='torch',
                        init='random', verbose=True, logger=logger)
    lines = [r.message for r in caplog.records if 'objective=' in r.message]
    assert len(lines) >= len(result.objective)
    assert f'{result.objective[0]:.6g}' in lines[0]


def _nan(x):
    x = x.copy()
    x[5, 3] = np.nan
    return x


def _inf(x):
    x = x.copy()
    x[7, 0] = np.inf
    return x


@pytest.mark.parametrize('make_input,kwargs,error,match', [
    (lambda x: x, dict(num_clusters=1), ValueError, 'at least 2'),
    (lambda x: x[:10], dict(num_clusters=11), ValueError, 'exceeds the 10'),
    (lambda x: x, dict(num_clusters=2.5), ValueError, 'integer'),
    (_nan, {}, ValueError, r'NaN or inf \(row 5\)'),
    (_inf, {}, ValueError, r'NaN or inf \(row 7\)'),
    (lambda x: x[:, 0], {}, ValueError, '2-D'),
    (lambda x: x[None], {}, ValueError, '2-D'),
    (lambda x: (x * 100).astype(np.int32), {}, ValueError, 'floating'),
    (lambda x: x[:0], {}, ValueError, 'empty'),
    (lambda x: x, dict(backend='sklearn'), ValueError, 'unknown backend'),
    (lambda x: x, dict(init='kmeans||'), ValueError, 'unknown init'),
    (lambda x: x, dict(init_centroids=np.zeros((4, 32))), ValueError,
     'has 4 rows'),
    (lambda x: x, dict(init_centroids=np.zeros((5, 31))), ValueError,
     'dimension 31'),
    (lambda x: x, dict(max_train_points=3), ValueError, 'max_train_points'),
    (lambda x: x, dict(num_iters=0), ValueError, 'num_iters'),
    (lambda x: x, dict(distributed=True), RuntimeError, 'process group'),
])
def test_bad_input_is_rejected(mixture, make_input, kwargs, error, match):
    kwargs = {'num_clusters': 5, **kwargs}
    with pytest.raises(error, match=match):
        kmeans(make_input(mixture[0][:200]), **kwargs)
